/**
 * What an operator's answer to an approval request must look like, checked in one place for the
 * workflow's `approval` update (its validator), its `approve` / `reject` signals and the CLI's
 * `autoglm approve|reject`. Pure and deterministic, so the workflow runs it as is.
 *
 * An answer is `{"approve": true|false, "by": "<who>", "reason": "<why>"}`: `approve` a JSON
 * boolean (the string "false", 0 or a missing field never approve), `by` and `reason` trimmed,
 * non-blank, without control or bidirectional-override characters, and bounded
 * (`ApprovalLimits`: AUTOGLM_APPROVAL_MAX_BY_CHARS, AUTOGLM_APPROVAL_MAX_REASON_CHARS, carried in
 * the workflow's settings) so the verdict that carries them stays far below Kafka's 1 MB message
 * limit. An optional `proof` (who signed it, checked by the act worker against the approvers file:
 * services/common/approvers.ts) is checked for shape only here. Other fields are dropped. Problems
 * are named by field, never by quoting the value (it may be huge, or a secret pasted by mistake).
 */
import type { ApprovalAnswer, RefusedApproval, RefusedApprovals } from './definitions.js';

/** The bounds on answers, from config; a workflow whose settings lack them (older ones) uses the defaults. */
export interface ApprovalLimits {
  /** Longest `by` (UTF-16 code units, after trimming). */
  readonly maxByChars: number;
  /** Longest `reason` (UTF-16 code units, after trimming). */
  readonly maxReasonChars: number;
  /** How many refused attempts a remediation keeps in its status and verdict (the count goes on). */
  readonly maxRefusedKept: number;
}

/** Longest `by` by default (AUTOGLM_APPROVAL_MAX_BY_CHARS): a user name or an e-mail address fits. */
export const MAX_APPROVAL_BY_CHARS = 128;
/** Longest `reason` by default (AUTOGLM_APPROVAL_MAX_REASON_CHARS): a few sentences, or a ticket link. */
export const MAX_APPROVAL_REASON_CHARS = 1024;
/** Refused attempts kept by default (AUTOGLM_APPROVAL_MAX_REFUSED_KEPT). */
export const MAX_REFUSED_APPROVALS_KEPT = 10;

/** The limits before they were knobs: what workflows started without `approvalLimits` keep. */
export const DEFAULT_APPROVAL_LIMITS: ApprovalLimits = Object.freeze({
  maxByChars: MAX_APPROVAL_BY_CHARS,
  maxReasonChars: MAX_APPROVAL_REASON_CHARS,
  maxRefusedKept: MAX_REFUSED_APPROVALS_KEPT,
});

/**
 * Who signed an answer: a signature over the workflow id, the decision id, approve or reject, `by`,
 * `reason` and `at` (services/common/approval-proof.ts) with `by`'s key. Not a secret: it proves
 * one answer to one remediation and nothing else.
 */
export interface ApprovalProof {
  /** When it was signed (epoch ms, the signer's clock). */
  readonly at: number;
  /** base64url of the HMAC-SHA256 or Ed25519 signature. */
  readonly signature: string;
}

/** An answer as a client sends it: the three fields and, where approvers are checked, a proof. */
export interface SignedApprovalAnswer extends ApprovalAnswer {
  readonly proof?: ApprovalProof;
}

/** Whether the act worker checks who answers, and who may approve a given remediation. */
export type ApprovalPolicy =
  | { readonly checked: false; readonly note: string }
  | {
      readonly checked: true;
      /** Approvers who may approve this remediation (the first few), for the status and messages. */
      readonly mayApprove: readonly string[];
      /** How many more may approve than `mayApprove` names. */
      readonly more: number;
    };

/** How the answer taken was checked: by whose key, or not at all (no approvers file). */
export type ApprovalIdentity =
  | { readonly checked: false; readonly note: string }
  | {
      readonly checked: true;
      readonly approver: string;
      readonly team?: string;
      readonly key: 'hmac-sha256' | 'ed25519';
    };

/** The act worker's verdict on who answered: taken (and how it was checked), or why not. */
export type ApproverCheck =
  | { readonly ok: true; readonly identity: ApprovalIdentity }
  | { readonly ok: false; readonly problem: string };

/** What the workflow asks the act worker to check (`checkApprover`): never a secret. */
export interface ApproverCheckRequest {
  readonly workflowId: string;
  readonly decisionId: string;
  /** The decision's catalog service (`facts.service`), null when none owns the entity. */
  readonly service: string | null;
  readonly answer: ApprovalAnswer;
  readonly proof?: ApprovalProof;
  /** Workflow time (epoch ms) the answer arrived: the proof's age counts to it. */
  readonly receivedAt: number;
}

/** Longest signature accepted (an Ed25519 signature is 86 base64url characters). */
const MAX_SIGNATURE_CHARS = 128;

/** The shape an answer must have, for messages. */
export const APPROVAL_SHAPE = '{"approve": true|false, "by": "<who>", "reason": "<why>"}';

/** A checked answer, or every problem found (each names the field and the fix). */
export type ApprovalCheck =
  | { readonly ok: true; readonly answer: ApprovalAnswer; readonly proof?: ApprovalProof }
  | { readonly ok: false; readonly problems: readonly string[] };

const kindOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`;

// Characters that would hide or rearrange text in a terminal, a log line or the UI.
const BIDI_AND_SEPARATORS = new Set([
  0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069,
]);

/** The first control or bidi-override character in `s` and where it is, if any. */
function forbiddenCharIn(s: string): { code: number; index: number } | undefined {
  let index = 0;
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f) || BIDI_AND_SEPARATORS.has(code))
      return { code, index };
    index += ch.length;
  }
  return undefined;
}

const hex = (code: number) => `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;

/** Checks one text field (`by`, `reason`); returns the trimmed text or a problem. */
function checkText(
  record: Record<string, unknown>,
  field: 'by' | 'reason',
  what: string,
  max: number,
): { text?: string; problem?: string } {
  const raw = record[field];
  if (raw === undefined) return { problem: `"${field}" is required: ${what}` };
  if (typeof raw !== 'string') return { problem: `"${field}" must be a string, not ${kindOf(raw)}: ${what}` };
  const text = raw.trim();
  if (text === '') return { problem: `"${field}" is blank: ${what}` };
  if (text.length > max)
    return {
      problem: `"${field}" is ${text.length} characters long; at most ${max} are allowed: shorten it`,
    };
  const bad = forbiddenCharIn(text);
  if (bad)
    return {
      problem: `"${field}" holds a control or direction character (${hex(bad.code)} at index ${bad.index}): remove it`,
    };
  return { text };
}

/** Checks the optional `proof`'s shape; returns a fresh copy or a problem. */
function checkProof(raw: unknown): { proof?: ApprovalProof; problem?: string } {
  if (raw === undefined) return {};
  const fix = 'sign the answer with `autoglm approve|reject --key-file`, or leave "proof" out';
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    return {
      problem: `"proof" must be an object {"at": <epoch ms>, "signature": "<base64url>"}, not ${kindOf(raw)}: ${fix}`,
    };
  const { at, signature } = raw as Record<string, unknown>;
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0)
    return {
      problem: `"proof.at" must be the signing time in epoch milliseconds, not ${kindOf(at)}: ${fix}`,
    };
  if (
    typeof signature !== 'string' ||
    !/^[A-Za-z0-9_-]+$/.test(signature) ||
    signature.length > MAX_SIGNATURE_CHARS
  )
    return {
      problem: `"proof.signature" must be base64url text of at most ${MAX_SIGNATURE_CHARS} characters: ${fix}`,
    };
  return { proof: { at, signature } };
}

/**
 * Checks an operator's answer. `signal` is the meaning of the signal it came with (true for
 * `approve`, false for `reject`): there `approve` may be left out, and must agree when given. Without
 * `signal` (the update, the CLI) `approve` is required. `limits` are the workflow's (its settings).
 * Returns a fresh object of the three fields, and the proof's shape-checked copy when one came.
 */
export function checkApproval(
  input: unknown,
  signal?: boolean,
  limits: ApprovalLimits = DEFAULT_APPROVAL_LIMITS,
): ApprovalCheck {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return { ok: false, problems: [`an approval is a JSON object ${APPROVAL_SHAPE}, not ${kindOf(input)}`] };
  }
  const record = input as Record<string, unknown>;
  const problems: string[] = [];
  let approve: boolean | undefined = signal;
  const given = record.approve;
  if (given === undefined) {
    if (signal === undefined) problems.push('"approve" is required: true to approve, false to reject');
  } else if (typeof given !== 'boolean') {
    problems.push(
      `"approve" must be the JSON boolean true or false, not ${kindOf(given)} (write false, not "false" or 0)`,
    );
  } else if (signal !== undefined && given !== signal) {
    problems.push(
      `"approve": ${given} contradicts the ${signal ? 'approve' : 'reject'} signal: leave "approve" out, or send the ${given ? 'approve' : 'reject'} signal`,
    );
  } else {
    approve = given;
  }
  const by = checkText(record, 'by', 'who decides (a user name or e-mail)', limits.maxByChars);
  const reason = checkText(record, 'reason', 'why (shown in the verdict)', limits.maxReasonChars);
  const proof = checkProof(record.proof);
  for (const p of [by.problem, reason.problem, proof.problem]) if (p) problems.push(p);
  if (problems.length > 0 || approve === undefined || by.text === undefined || reason.text === undefined)
    return { ok: false, problems };
  const answer = { approve, by: by.text, reason: reason.text };
  return proof.proof ? { ok: true, answer, proof: proof.proof } : { ok: true, answer };
}

/** Where a remediation stands on approvals, for `approvalRefusal`. */
export interface ApprovalWindow {
  /** Whether the decision asks for approval at all. */
  readonly required: boolean;
  /** The answer already taken, if any. */
  readonly answered?: Pick<ApprovalAnswer, 'approve' | 'by'>;
  /** Why no answer is taken any more (expired, the remediation ended), once that is so. */
  readonly closed?: string;
  /** Workflow time (epoch ms) from which an answer is too late, once the wait has started. */
  readonly deadline?: number;
}

/**
 * Why an answer, however well formed, cannot be taken now (undefined when it can): none is
 * needed, one was already taken, the wait is over, or the approval deadline has passed (an answer
 * that arrives with or after the timeout never acts, even when both land in one workflow task).
 */
export function approvalRefusal(w: ApprovalWindow, now: number): string | undefined {
  if (!w.required) return 'this remediation needs no approval';
  if (w.answered) return `already ${w.answered.approve ? 'approved' : 'rejected'} by ${w.answered.by}`;
  if (w.closed !== undefined) return `it no longer waits for an approval: ${w.closed}`;
  if (w.deadline !== undefined && now >= w.deadline)
    return `too late: the approval deadline passed at ${new Date(w.deadline).toISOString()} (AUTOGLM_APPROVAL_TIMEOUT)`;
  return undefined;
}

/** Adds a refused attempt, keeping the count and only the latest `kept` (the workflow's limit). */
export function withRefusal(
  refused: RefusedApprovals | undefined,
  attempt: RefusedApproval,
  kept: number = MAX_REFUSED_APPROVALS_KEPT,
): RefusedApprovals {
  const latest = kept > 0 ? [...(refused?.latest ?? []), attempt].slice(-kept) : [];
  return { count: (refused?.count ?? 0) + 1, latest };
}

/** Why an unsigned answer is refused where approvers are checked, and how to sign it. */
export function unsignedProblem(by: string, approve: boolean): string {
  return `approver identity is checked here: sign the answer with ${JSON.stringify(by)}'s key (autoglm ${approve ? 'approve' : 'reject'} <workflowId> --key-file <file>, or AUTOGLM_APPROVER_KEY_FILE)`;
}

/**
 * The policy line of a remediation that waits for an answer: who may approve, or that identity is
 * not checked. For `autoglm status`, the status's `waitingFor` and refusals.
 */
export function policyText(policy: ApprovalPolicy): string {
  if (!policy.checked) return `approver identity is not checked: ${policy.note}`;
  if (policy.mayApprove.length === 0)
    return 'signed answers only; nobody in the approvers file may approve this remediation (any listed approver may reject it)';
  const more = policy.more > 0 ? ` and ${policy.more} more` : '';
  return `signed answers only; may approve: ${policy.mayApprove.join(', ')}${more} (any listed approver may reject)`;
}
