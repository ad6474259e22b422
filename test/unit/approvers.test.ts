/**
 * Who may answer an approval (services/common/approvers.ts) and the proof an answer carries
 * (services/common/approval-proof.ts): real key files in a temporary folder, HMAC and Ed25519, and
 * the act worker's activities (services/act/approval-activities.ts) that read the file again on
 * each answer. test/workflow/approval-identity.test.ts shows a refused answer never acts.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { approvalCommand, UsageError } from '../../cli/remediation-commands.js';
import { createApprovalActivities, IDENTITY_NOT_CHECKED } from '../../services/act/approval-activities.js';
import {
  ApprovalKeyError,
  readSigningKey,
  signApproval,
  type SigningKey,
} from '../../services/common/approval-proof.js';
import { approversLine, loadApprovers } from '../../services/common/approvers.js';
import { ConfigError } from '../../services/common/config.js';
import type { Logger } from '../../services/common/logger.js';
import type { ApproverCheckRequest } from '../../workflows/approval.js';

const MAX_AGE = 5 * 60_000;
const NOW = Date.parse('2026-12-06T12:00:00Z');

let dir: string;
let file: string;
let aliceKey: SigningKey; // HMAC, may approve everything
let bobKey: SigningKey; // Ed25519, may approve payments and checkout-* only
let eveKey: SigningKey; // listed nowhere
const ALICE_SECRET = crypto.randomBytes(32).toString('base64');

const write = (name: string, text: string | Buffer, mode = 0o600) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text, { mode });
  fs.chmodSync(p, mode);
  return p;
};
const writeApprovers = (approvers: unknown[], name = 'approvers.json') =>
  write(name, JSON.stringify({ approvers }), 0o644);

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'approvers-'));
  write('alice.key', `${ALICE_SECRET}\n`);
  const bob = crypto.generateKeyPairSync('ed25519');
  write('bob.pem', bob.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  write('bob.pub', bob.publicKey.export({ type: 'spki', format: 'pem' }), 0o644);
  write('eve.key', crypto.randomBytes(32).toString('base64'));
  file = writeApprovers([
    { name: 'alice', team: 'sre', keyFile: 'alice.key' },
    { name: 'bob', team: 'payments', services: ['payments', 'checkout-*'], publicKeyFile: 'bob.pub' },
  ]);
  aliceKey = readSigningKey(path.join(dir, 'alice.key'));
  bobKey = readSigningKey(path.join(dir, 'bob.pem'));
  eveKey = readSigningKey(path.join(dir, 'eve.key'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A request for `answer`, signed by `key` at `at` unless `proof: false`. */
function request(
  answer: { approve: boolean; by: string; reason?: string },
  key: SigningKey | false,
  over: { at?: number; service?: string | null; workflowId?: string; decisionId?: string } = {},
): ApproverCheckRequest {
  const base = {
    workflowId: over.workflowId ?? 'remediate-checkout-1-cpu-abc',
    decisionId: over.decisionId ?? 'abc123',
    service: over.service === undefined ? 'checkout-eu' : over.service,
    answer: { approve: answer.approve, by: answer.by, reason: answer.reason ?? 'checked the dashboard' },
    receivedAt: NOW,
  };
  if (key === false) return base;
  return { ...base, proof: signApproval(key, { ...base.answer, ...base, at: over.at ?? NOW - 2_000 }) };
}

const problemOf = (req: ApproverCheckRequest) => {
  const result = loadApprovers(file).check(req, MAX_AGE);
  return result.ok ? undefined : result.problem;
};

describe('an approval proof', () => {
  it('is taken from a listed approver with their HMAC secret or Ed25519 key', () => {
    const approvers = loadApprovers(file);
    assert.deepEqual(approvers.check(request({ approve: true, by: 'alice' }, aliceKey), MAX_AGE), {
      ok: true,
      identity: { checked: true, approver: 'alice', team: 'sre', key: 'hmac-sha256' },
    });
    assert.deepEqual(approvers.check(request({ approve: true, by: 'bob' }, bobKey), MAX_AGE), {
      ok: true,
      identity: { checked: true, approver: 'bob', team: 'payments', key: 'ed25519' },
    });
  });

  it('is refused when any signed field was changed after signing', () => {
    const signed = request({ approve: false, by: 'alice' }, aliceKey);
    const tampered: Array<[string, ApproverCheckRequest]> = [
      ['workflow id', { ...signed, workflowId: 'remediate-other' }],
      ['decision id', { ...signed, decisionId: 'abc124' }],
      ['reject turned approve', { ...signed, answer: { ...signed.answer, approve: true } }],
      ['reason', { ...signed, answer: { ...signed.answer, reason: 'checked the dashboard!' } }],
      ['by (another listed approver)', { ...signed, answer: { ...signed.answer, by: 'bob' } }],
      ['time', { ...signed, proof: { ...signed.proof!, at: signed.proof!.at + 1 } }],
    ];
    assert.equal(problemOf(signed), undefined, 'untouched, it is taken');
    for (const [what, req] of tampered)
      assert.match(
        problemOf(req) ?? 'taken',
        /^the proof does not match "(alice|bob)"'s key: signed with another key, or for another remediation/,
        what,
      );
  });

  it("is refused when signed with another key than the approver's", () => {
    for (const key of [eveKey, bobKey])
      assert.match(
        problemOf(request({ approve: true, by: 'alice' }, key)) ?? 'taken',
        /^the proof does not match "alice"'s key/,
      );
    // A signature of the right length made without any key.
    const forged = request({ approve: true, by: 'alice' }, aliceKey);
    const zeros = {
      ...forged,
      proof: { ...forged.proof!, signature: Buffer.alloc(32).toString('base64url') },
    };
    assert.match(problemOf(zeros) ?? 'taken', /does not match/);
  });

  it('is refused when older than AUTOGLM_APPROVAL_PROOF_MAX_AGE, or stamped ahead of its arrival', () => {
    assert.equal(
      problemOf(request({ approve: true, by: 'alice' }, aliceKey, { at: NOW - MAX_AGE })),
      undefined,
    );
    assert.equal(
      problemOf(request({ approve: true, by: 'alice' }, aliceKey, { at: NOW - MAX_AGE - 1 })),
      'the proof was signed at 2026-12-06T11:54:59.999Z, 300s before the answer arrived, more than the 300s allowed (AUTOGLM_APPROVAL_PROOF_MAX_AGE): sign a new answer',
    );
    assert.equal(
      problemOf(request({ approve: true, by: 'alice' }, aliceKey, { at: NOW + 60_000 })),
      undefined,
    );
    assert.match(
      problemOf(request({ approve: true, by: 'alice' }, aliceKey, { at: NOW + 60_001 })) ?? 'taken',
      /^the proof is stamped 60s after the answer arrived: the signer's clock runs ahead/,
    );
  });

  it('is refused from an unlisted approver, naming who may approve', () => {
    for (const approve of [true, false])
      assert.equal(
        problemOf(request({ approve, by: 'eve' }, eveKey)),
        '"eve" is not a listed approver (AUTOGLM_APPROVERS_FILE): alice, bob may approve it',
      );
    assert.equal(
      problemOf(request({ approve: true, by: 'eve' }, eveKey, { service: 'search' })),
      '"eve" is not a listed approver (AUTOGLM_APPROVERS_FILE): alice may approve it',
    );
  });

  it("refuses an approve for a service the approver may not approve, but takes the same approver's reject", () => {
    assert.equal(
      problemOf(request({ approve: true, by: 'bob' }, bobKey, { service: 'search' })),
      '"bob" may not approve a remediation of service search: alice may approve it; "bob" may still reject it',
    );
    assert.match(
      problemOf(request({ approve: true, by: 'bob' }, bobKey, { service: null })) ?? 'taken',
      /^"bob" may not approve a remediation of an entity without a catalog service: alice may approve it/,
    );
    assert.equal(problemOf(request({ approve: false, by: 'bob' }, bobKey, { service: 'search' })), undefined);
    assert.equal(problemOf(request({ approve: false, by: 'bob' }, bobKey, { service: null })), undefined);
  });

  it('is required from a listed approver, with the way to sign', () => {
    assert.equal(
      problemOf(request({ approve: false, by: 'alice' }, false)),
      `approver identity is checked here: sign the answer with "alice"'s key (autoglm reject <workflowId> --key-file <file>, or AUTOGLM_APPROVER_KEY_FILE)`,
    );
  });

  it('names who may approve a service in the policy', () => {
    const approvers = loadApprovers(file);
    assert.deepEqual(approvers.policy('checkout-eu'), {
      checked: true,
      mayApprove: ['alice', 'bob'],
      more: 0,
    });
    assert.deepEqual(approvers.policy('search'), { checked: true, mayApprove: ['alice'], more: 0 });
    assert.deepEqual(approvers.policy(null), { checked: true, mayApprove: ['alice'], more: 0 });
  });
});

describe("rules explain's approvers line", () => {
  it('says who may approve, that identity is not checked, or that the file is broken', () => {
    assert.equal(
      approversLine(file, 'checkout-eu'),
      'signed answers only; may approve: alice, bob (any listed approver may reject)',
    );
    assert.match(
      approversLine('', 'checkout-eu'),
      /^approver identity is not checked: no AUTOGLM_APPROVERS_FILE/,
    );
    assert.match(
      approversLine(path.join(dir, 'absent.json'), null),
      /^the approvers file cannot be used, so no answer would be taken: AUTOGLM_APPROVERS_FILE .* cannot be read/,
    );
  });
});

describe('the approvers file', () => {
  it('lists every problem at once, naming the approver, the fix, and never a key', () => {
    write('short.key', 'too-short');
    write('open.key', crypto.randomBytes(32).toString('base64'), 0o644);
    write(
      'rsa.pub',
      crypto
        .generateKeyPairSync('rsa', { modulusLength: 1024 })
        .publicKey.export({ type: 'spki', format: 'pem' }),
      0o644,
    );
    const bad = writeApprovers(
      [
        { name: 'alice', keyFile: 'alice.key' },
        { name: 'alice', keyFile: 'alice.key' },
        { name: 'both', keyFile: 'alice.key', publicKeyFile: 'bob.pub' },
        { name: 'none' },
        { name: 'short', keyFile: 'short.key' },
        { name: 'open', keyFile: 'open.key' },
        { name: 'rsa', publicKeyFile: 'rsa.pub' },
        { name: 'secret-as-public', publicKeyFile: 'alice.key' },
        { name: 'missing', keyFile: 'nope.key' },
      ],
      'bad.json',
    );
    const where = `AUTOGLM_APPROVERS_FILE ${bad}`;
    assert.throws(
      () => loadApprovers(bad),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [
          `${where}: approvers[1] (alice): the name is listed twice: keep one entry per approver`,
          `${where}: approvers[2] (both): give exactly one of "keyFile" (an HMAC secret) or "publicKeyFile" (Ed25519)`,
          `${where}: approvers[3] (none): give exactly one of "keyFile" (an HMAC secret) or "publicKeyFile" (Ed25519)`,
          `${where}: approvers[4] (short): the keyFile ${dir}/short.key holds 9 bytes; a secret needs at least 32 (head -c 32 /dev/urandom | base64 > ${dir}/short.key)`,
          `${where}: approvers[5] (open): the keyFile ${dir}/open.key is readable by group or others (mode 0644): chmod 600 ${dir}/open.key`,
          `${where}: approvers[6] (rsa): the publicKeyFile ${dir}/rsa.pub is a rsa key; use Ed25519 (openssl genpkey -algorithm ed25519)`,
          `${where}: approvers[7] (secret-as-public): the publicKeyFile ${dir}/alice.key is not a PEM public key: write one with openssl pkey -in <private.pem> -pubout`,
          `${where}: approvers[8] (missing): the keyFile ${dir}/nope.key cannot be read (ENOENT): check the path and its permissions`,
        ]);
        assert.ok(!err.message.includes(ALICE_SECRET), 'no key in the message');
        return true;
      },
    );
  });

  it('refuses unknown fields, bad names and service patterns by path', () => {
    const bad = writeApprovers(
      [
        { name: 'al ice', keyFile: 'alice.key', service: ['x'] },
        { name: 'carol', services: ['pay ments'], keyFile: 'alice.key' },
      ],
      'shape.json',
    );
    assert.throws(
      () => loadApprovers(bad),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const text = err.problems.join('\n');
        assert.match(text, /approvers\[0\]\.name: must be a user name or e-mail/);
        assert.match(text, /approvers\[0\]\.service: unknown key \(did you mean "services"\?\)/);
        assert.match(text, /approvers\[1\]\.services\[0\]: must be a catalog service name/);
        return true;
      },
    );
    // Shape problems and the checks of the rest in one reading: twins and key files beside a bad field.
    const mixed = writeApprovers(
      [
        { name: 'alice', team: 'sre team', keyFile: 'alice.key' },
        { name: 'alice', services: 'payments', keyFile: 'nope.key' },
        { name: 'dan' },
        { name: 'al ice', keyFile: 'nope.key' },
        { name: 'erin', keyFile: '' },
      ],
      'mixed.json',
    );
    const where = `AUTOGLM_APPROVERS_FILE ${mixed}`;
    assert.throws(
      () => loadApprovers(mixed),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [
          `${where}: approvers[0].team: must be a user name or e-mail: letters, digits and . _ @ + -, at most 128 characters`,
          `${where}: approvers[1].services: must be a list of catalog service names, such as ["payments", "checkout-*"]`,
          `${where}: approvers[1] (alice): the name is listed twice: keep one entry per approver`,
          `${where}: approvers[1] (alice): the keyFile ${dir}/nope.key cannot be read (ENOENT): check the path and its permissions`,
          `${where}: approvers[2] (dan): give exactly one of "keyFile" (an HMAC secret) or "publicKeyFile" (Ed25519)`,
          `${where}: approvers[3].name: must be a user name or e-mail: letters, digits and . _ @ + -, at most 128 characters`,
          `${where}: approvers[3]: the keyFile ${dir}/nope.key cannot be read (ENOENT): check the path and its permissions`,
          `${where}: approvers[4].keyFile: name the file of their HMAC secret`,
        ]);
        return true;
      },
    );
    assert.throws(
      () => loadApprovers(path.join(dir, 'absent.json')),
      /cannot be read \(ENOENT\): check the path, or unset it/,
    );
  });
});

describe("the approver's signing key", () => {
  it('is an Ed25519 private key or an HMAC secret, readable by its owner only', () => {
    assert.equal(readSigningKey(path.join(dir, 'bob.pem')).kind, 'ed25519');
    assert.equal(readSigningKey(path.join(dir, 'alice.key')).kind, 'hmac-sha256');
    assert.throws(() => readSigningKey(path.join(dir, 'bob.pub')), ApprovalKeyError);
    const open = write('open-signing.key', crypto.randomBytes(32).toString('base64'), 0o640);
    assert.throws(() => readSigningKey(open), /readable by group or others \(mode 0640\): chmod 600/);
  });
});

describe('autoglm approve --key-file', () => {
  it('refuses a key file others can read, or a public key, before it connects', async () => {
    const open = write('cli-open.key', crypto.randomBytes(32).toString('base64'), 0o644);
    for (const [keyFile, why] of [
      [
        open,
        /^cannot approve: the approver key file .*cli-open\.key is readable by group or others \(mode 0644\): chmod 600/,
      ],
      [
        path.join(dir, 'bob.pub'),
        /^cannot approve: the approver key file .*bob\.pub holds a public key: sign with the private key/,
      ],
      [
        path.join(dir, 'absent.key'),
        /^cannot approve: the approver key file .*absent\.key cannot be read \(ENOENT\)/,
      ],
    ] as const)
      await assert.rejects(
        approvalCommand(true, ['remediate-x', '--by', 'alice', '--reason', 'ok', '--key-file', keyFile]),
        (err: unknown) => {
          assert.ok(err instanceof UsageError, String(err));
          assert.match(err.message, why);
          return true;
        },
      );
  });
});

describe("the act worker's approver activities", () => {
  const logged: string[] = [];
  const logger = {
    info: (obj: unknown, msg: string) => logged.push(JSON.stringify([obj, msg])),
    error: (obj: unknown, msg: string) => logged.push(JSON.stringify([obj, msg])),
  } as unknown as Logger;

  it('take any answer, saying identity is not checked, without an approvers file', async () => {
    const none = createApprovalActivities({ approversFile: '', proofMaxAgeMs: MAX_AGE, logger });
    assert.deepEqual(await none.approvalPolicy({ service: 'x' }), {
      checked: false,
      note: IDENTITY_NOT_CHECKED,
    });
    assert.deepEqual(await none.checkApprover(request({ approve: true, by: 'anyone' }, false)), {
      ok: true,
      identity: { checked: false, note: IDENTITY_NOT_CHECKED },
    });
  });

  it('read the file again for each answer: a removed approver is refused from the next one; a broken file refuses all', async () => {
    const live = writeApprovers([{ name: 'alice', keyFile: 'alice.key' }], 'live.json');
    const acts = createApprovalActivities({ approversFile: live, proofMaxAgeMs: MAX_AGE, logger });
    const req = request({ approve: true, by: 'alice' }, aliceKey);
    assert.equal((await acts.checkApprover(req)).ok, true);
    writeApprovers([{ name: 'bob', publicKeyFile: 'bob.pub' }], 'live.json');
    assert.deepEqual(await acts.checkApprover(req), {
      ok: false,
      problem: '"alice" is not a listed approver (AUTOGLM_APPROVERS_FILE): bob may approve it',
    });
    write('live.json', '{"approvers": [', 0o644);
    const broken = await acts.checkApprover(request({ approve: false, by: 'bob' }, bobKey));
    assert.equal(broken.ok, false);
    assert.match(
      !broken.ok ? broken.problem : '',
      /^the approvers file cannot be used now, so no answer is taken: .*not valid JSON/,
    );
    assert.ok(logged.length >= 3);
    for (const line of logged) {
      assert.ok(!line.includes(ALICE_SECRET), 'no secret in the log');
      assert.ok(!line.includes(req.proof!.signature), 'no proof in the log');
    }
  });
});
