/**
 * The approval limits as knobs (AUTOGLM_APPROVAL_MAX_*, services/common/config.ts): their defaults
 * are the constants the workflow used before them (what a workflow started without
 * `approvalLimits` keeps), bad values are all listed, and the checks use the limits given.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../services/common/config.js';
import {
  checkApproval,
  DEFAULT_APPROVAL_LIMITS,
  MAX_APPROVAL_BY_CHARS,
  MAX_APPROVAL_REASON_CHARS,
  MAX_REFUSED_APPROVALS_KEPT,
  withRefusal,
} from '../../workflows/approval.js';

describe('the approval knobs', () => {
  it("default to the workflow's former constants (128, 1024, 10), a 5m proof age and no approvers file", () => {
    const config = loadConfig({});
    assert.deepEqual(
      {
        maxByChars: config.approvalMaxByChars,
        maxReasonChars: config.approvalMaxReasonChars,
        maxRefusedKept: config.approvalMaxRefusedKept,
      },
      DEFAULT_APPROVAL_LIMITS,
    );
    assert.deepEqual(
      [MAX_APPROVAL_BY_CHARS, MAX_APPROVAL_REASON_CHARS, MAX_REFUSED_APPROVALS_KEPT],
      [128, 1024, 10],
    );
    assert.equal(config.approvalProofMaxAge, 300_000);
    assert.equal(config.approversFile, '');
    assert.equal(config.approverKeyFile, '');
  });

  it('list every bad value at once, each by its variable', () => {
    assert.throws(
      () =>
        loadConfig({
          AUTOGLM_APPROVAL_MAX_BY_CHARS: '0',
          AUTOGLM_APPROVAL_MAX_REASON_CHARS: '16385',
          AUTOGLM_APPROVAL_MAX_REFUSED_KEPT: '-1',
          AUTOGLM_APPROVAL_PROOF_MAX_AGE: '2h',
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [
          'AUTOGLM_APPROVAL_MAX_BY_CHARS="0": must be at least 1',
          'AUTOGLM_APPROVAL_MAX_REASON_CHARS="16385": must be at most 16384 (the verdict carries it over Kafka)',
          'AUTOGLM_APPROVAL_MAX_REFUSED_KEPT="-1": must be 0 or more',
          'AUTOGLM_APPROVAL_PROOF_MAX_AGE="2h": must be longer than 0 and at most 1h, such as "5m"',
        ]);
        return true;
      },
    );
    assert.equal(loadConfig({ AUTOGLM_APPROVAL_MAX_BY_CHARS: '512' }).approvalMaxByChars, 512);
  });

  it('bound answers and refusals with the limits given', () => {
    const limits = { maxByChars: 5, maxReasonChars: 3, maxRefusedKept: 0 };
    assert.equal(checkApproval({ approve: true, by: 'alice', reason: 'ok!' }, undefined, limits).ok, true);
    const over = checkApproval({ approve: true, by: 'alice2', reason: 'okay' }, undefined, limits);
    assert.deepEqual(over.ok ? [] : over.problems, [
      '"by" is 6 characters long; at most 5 are allowed: shorten it',
      '"reason" is 4 characters long; at most 3 are allowed: shorten it',
    ]);
    const none = withRefusal(undefined, { at: 1, via: 'approve signal', problem: 'p' }, 0);
    assert.deepEqual(none, { count: 1, latest: [] }, 'counted, none kept');
  });

  it('carry a well-formed proof along and refuse a malformed one, naming the field', () => {
    const base = { approve: true, by: 'alice', reason: 'ok' };
    const proof = { at: 1_765_000_000_000, signature: 'abc_-09' };
    assert.deepEqual(checkApproval({ ...base, proof: { ...proof, extra: 1 } }), {
      ok: true,
      answer: base,
      proof,
    });
    const problems = (p: unknown) => {
      const c = checkApproval({ ...base, proof: p });
      return c.ok ? [] : c.problems.map((x) => x.replace(/:.*/, ''));
    };
    assert.deepEqual(problems('sig'), ['"proof" must be an object {"at"']);
    assert.deepEqual(problems({ ...proof, at: '1' }), [
      '"proof.at" must be the signing time in epoch milliseconds, not a string',
    ]);
    assert.deepEqual(problems({ ...proof, signature: 'a+b=' }), [
      '"proof.signature" must be base64url text of at most 128 characters',
    ]);
    assert.deepEqual(problems({ ...proof, signature: 'a'.repeat(129) }), [
      '"proof.signature" must be base64url text of at most 128 characters',
    ]);
  });
});
