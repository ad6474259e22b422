/**
 * Signing and checking an approval's proof: who answered a remediation, with a key only they hold.
 * The signed text binds the workflow id, the decision id, approve or reject, `by`, `reason` and the
 * signing time, so a proof answers one remediation one way and cannot be moved to another, turned
 * from a reject into an approve, or reworded. Keys: a shared secret (HMAC-SHA256; the approver and
 * the act worker both hold it) or an Ed25519 key pair (the approver holds the private key, the
 * worker only the public one, so a worker's files cannot forge an approval). Keys never leave the
 * process: only the signature travels, and it is no secret.
 */
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import type { ApprovalProof } from '../../workflows/approval.js';

/** What a proof is about; the signer and the checker build the same text from it. */
export interface ApprovalClaim {
  readonly workflowId: string;
  readonly decisionId: string;
  readonly approve: boolean;
  /** Trimmed, as the workflow keeps it. */
  readonly by: string;
  /** Trimmed, as the workflow keeps it. */
  readonly reason: string;
  /** Signing time, epoch ms. */
  readonly at: number;
}

/** A key that can sign (the approver's side). */
export type SigningKey =
  | { readonly kind: 'hmac-sha256'; readonly secret: Buffer }
  | { readonly kind: 'ed25519'; readonly privateKey: KeyObject };

/** A key that can check (the act worker's side). */
export type CheckingKey =
  | { readonly kind: 'hmac-sha256'; readonly secret: Buffer }
  | { readonly kind: 'ed25519'; readonly publicKey: KeyObject };

/** Fewest bytes of an HMAC secret: 32 random bytes (`head -c 32 /dev/urandom | base64`). */
export const MIN_SECRET_BYTES = 32;

/** A key file that cannot be used; the message names the file and the fix, never its content. */
export class ApprovalKeyError extends Error {
  override readonly name = 'ApprovalKeyError';
}

/**
 * The exact text signed: a JSON array, so no field can spill into the next (a `by` holding a
 * separator signs differently from two fields).
 */
export function approvalPayload(c: ApprovalClaim): Buffer {
  return Buffer.from(
    JSON.stringify([
      'autoglm-approval-v1',
      c.workflowId,
      c.decisionId,
      c.approve ? 'approve' : 'reject',
      c.by,
      c.reason,
      c.at,
    ]),
    'utf8',
  );
}

/** Signs a claim: the proof the workflow's answer carries. */
export function signApproval(key: SigningKey, claim: ApprovalClaim): ApprovalProof {
  const payload = approvalPayload(claim);
  const signature =
    key.kind === 'hmac-sha256'
      ? crypto.createHmac('sha256', key.secret).update(payload).digest()
      : crypto.sign(null, payload, key.privateKey);
  return { at: claim.at, signature: signature.toString('base64url') };
}

/** Whether `signature` (base64url) is `key`'s over the claim; constant-time for HMAC. */
export function signatureMatches(key: CheckingKey, claim: ApprovalClaim, signature: string): boolean {
  const given = Buffer.from(signature, 'base64url');
  const payload = approvalPayload(claim);
  if (key.kind === 'hmac-sha256') {
    const expected = crypto.createHmac('sha256', key.secret).update(payload).digest();
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  }
  try {
    return crypto.verify(null, payload, key.publicKey, given);
  } catch {
    return false;
  }
}

/** Refuses a secret file others can read (the review's note: key files reused without a mode check). */
function checkPrivateMode(file: string, what: string): void {
  const mode = fs.statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0)
    throw new ApprovalKeyError(
      `${what} ${file} is readable by group or others (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 ${file}`,
    );
}

function readKeyText(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ApprovalKeyError(
      `${what} ${file} cannot be read (${code}): check the path and its permissions`,
    );
  }
}

/** An HMAC secret from a key file: its bytes without the trailing newline, at least 32 of them. */
function secretFrom(bytes: Buffer, file: string, what: string): Buffer {
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
  const secret = bytes.subarray(0, end);
  if (secret.length < MIN_SECRET_BYTES)
    throw new ApprovalKeyError(
      `${what} ${file} holds ${secret.length} bytes; a secret needs at least ${MIN_SECRET_BYTES} (head -c 32 /dev/urandom | base64 > ${file})`,
    );
  return Buffer.from(secret);
}

const isPem = (bytes: Buffer, label: string) =>
  bytes.subarray(0, 64).toString('latin1').trimStart().startsWith(`-----BEGIN ${label}-----`);

/**
 * The approver's signing key (`autoglm approve --key-file`, AUTOGLM_APPROVER_KEY_FILE): an Ed25519
 * private key in PEM (`openssl genpkey -algorithm ed25519`), else an HMAC secret. Either must be
 * readable by its owner only.
 */
export function readSigningKey(file: string): SigningKey {
  const what = 'the approver key file';
  const bytes = readKeyText(file, what);
  if (isPem(bytes, 'PUBLIC KEY'))
    throw new ApprovalKeyError(
      `${what} ${file} holds a public key: sign with the private key (the act worker holds the public one)`,
    );
  checkPrivateMode(file, what);
  if (isPem(bytes, 'PRIVATE KEY')) {
    const privateKey = ed25519(() => crypto.createPrivateKey(bytes), file, what);
    return { kind: 'ed25519', privateKey };
  }
  return { kind: 'hmac-sha256', secret: secretFrom(bytes, file, what) };
}

/** An approver's checking key as the approvers file names it: a secret (`keyFile`) or a public key. */
export function readCheckingKey(file: string, kind: 'secret' | 'public'): CheckingKey {
  const what = kind === 'secret' ? 'the keyFile' : 'the publicKeyFile';
  const bytes = readKeyText(file, what);
  if (kind === 'public') {
    if (!isPem(bytes, 'PUBLIC KEY'))
      throw new ApprovalKeyError(
        `${what} ${file} is not a PEM public key: write one with openssl pkey -in <private.pem> -pubout`,
      );
    return { kind: 'ed25519', publicKey: ed25519(() => crypto.createPublicKey(bytes), file, what) };
  }
  checkPrivateMode(file, what);
  if (isPem(bytes, 'PRIVATE KEY') || isPem(bytes, 'PUBLIC KEY'))
    throw new ApprovalKeyError(
      `${what} ${file} holds a PEM key: name an Ed25519 public key as publicKeyFile, keyFile is for HMAC secrets`,
    );
  return { kind: 'hmac-sha256', secret: secretFrom(bytes, file, what) };
}

function ed25519(make: () => KeyObject, file: string, what: string): KeyObject {
  let key: KeyObject;
  try {
    key = make();
  } catch {
    throw new ApprovalKeyError(`${what} ${file} is not a readable PEM key`);
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new ApprovalKeyError(
      `${what} ${file} is a ${key.asymmetricKeyType ?? 'non-asymmetric'} key; use Ed25519 (openssl genpkey -algorithm ed25519)`,
    );
  return key;
}
