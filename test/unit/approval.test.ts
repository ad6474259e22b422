/**
 * The approval answer's checks (`workflows/approval.ts`), shared by the workflow's update
 * validator, its signals and `autoglm approve|reject`. The workflow tests
 * (test/workflow/remediate.test.ts) show that what is refused here never acts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { approvalCommand, UsageError } from '../../cli/remediation-commands.js';
import {
  approvalRefusal,
  checkApproval,
  MAX_APPROVAL_BY_CHARS,
  MAX_APPROVAL_REASON_CHARS,
  MAX_REFUSED_APPROVALS_KEPT,
  withRefusal,
} from '../../workflows/approval.js';
import type { RefusedApprovals } from '../../workflows/definitions.js';

const problemsOf = (input: unknown, signal?: boolean) => {
  const checked = checkApproval(input, signal);
  return checked.ok ? [] : checked.problems;
};

describe('checkApproval', () => {
  it('takes a well-formed answer, trimmed, and drops every other field', () => {
    const checked = checkApproval({
      approve: false,
      by: '  bob@example.com ',
      reason: '\tchange freeze\n',
      at: 1,
      approved: true,
      __proto__: { approve: true },
    });
    assert.deepEqual(checked, {
      ok: true,
      answer: { approve: false, by: 'bob@example.com', reason: 'change freeze' },
    });
    assert.deepEqual(Object.keys(checked.ok ? checked.answer : {}), ['approve', 'by', 'reason']);
  });

  it('accepts by and reason at their limits and refuses one character more', () => {
    const at = {
      approve: true,
      by: 'b'.repeat(MAX_APPROVAL_BY_CHARS),
      reason: 'r'.repeat(MAX_APPROVAL_REASON_CHARS),
    };
    assert.equal(checkApproval(at).ok, true);
    assert.deepEqual(problemsOf({ ...at, by: `${at.by}b`, reason: `${at.reason}r` }), [
      `"by" is ${MAX_APPROVAL_BY_CHARS + 1} characters long; at most ${MAX_APPROVAL_BY_CHARS} are allowed: shorten it`,
      `"reason" is ${MAX_APPROVAL_REASON_CHARS + 1} characters long; at most ${MAX_APPROVAL_REASON_CHARS} are allowed: shorten it`,
    ]);
    // Counted after trimming: padding is not held against the operator.
    assert.equal(checkApproval({ ...at, by: `  ${at.by}  ` }).ok, true);
  });

  it('takes only the JSON booleans as approve', () => {
    for (const approve of ['false', 'true', 'no', 'yes', 0, 1, null, [], {}]) {
      const problems = problemsOf({ approve, by: 'a', reason: 'b' });
      assert.equal(problems.length, 1, JSON.stringify(approve));
      assert.match(problems[0]!, /^"approve" must be the JSON boolean true or false, not /);
    }
    assert.deepEqual(problemsOf({ by: 'a', reason: 'b' }), [
      '"approve" is required: true to approve, false to reject',
    ]);
  });

  it('lists every problem, naming each field and never quoting a value', () => {
    const secret = 'hunter2-secret-token';
    const problems = problemsOf({ approve: secret, by: 7, reason: `  ${secret}\u0000` });
    assert.ok(!problems.join('\n').includes(secret));
    assert.deepEqual(problems, [
      '"approve" must be the JSON boolean true or false, not a string (write false, not "false" or 0)',
      '"by" must be a string, not a number: who decides (a user name or e-mail)',
      '"reason" holds a control or direction character (U+0000 at index 20): remove it',
    ]);
    for (const input of [null, undefined, 'yes', 1, ['approve']])
      assert.match(
        problemsOf(input)[0]!,
        /^an approval is a JSON object \{"approve": true\|false, "by": "<who>", "reason": "<why>"\}, not /,
      );
  });

  it('refuses control, line-separator and bidi-override characters inside by and reason', () => {
    for (const ch of ['\n', '\r', '\u0007', '\u001b', '\u007f', '\u0085', '\u2028', '\u202e', '\u2066']) {
      assert.match(
        problemsOf({ approve: true, by: `a${ch}b`, reason: 'ok' })[0] ?? '',
        /^"by" holds a control or direction character \(U\+[0-9A-F]{4} at index 1\)/,
      );
    }
    assert.equal(checkApproval({ approve: true, by: 'Zoë Ødegård 山田', reason: 'ok 👍' }).ok, true);
  });

  it('for a signal: approve may be left out, must agree when given', () => {
    assert.deepEqual(checkApproval({ by: 'a', reason: 'b' }, false), {
      ok: true,
      answer: { approve: false, by: 'a', reason: 'b' },
    });
    assert.equal(checkApproval({ approve: true, by: 'a', reason: 'b' }, true).ok, true);
    assert.deepEqual(problemsOf({ approve: false, by: 'a', reason: 'b' }, true), [
      '"approve": false contradicts the approve signal: leave "approve" out, or send the reject signal',
    ]);
    assert.match(
      problemsOf({ approve: 'false', by: 'a', reason: 'b' }, false)[0]!,
      /must be the JSON boolean/,
    );
  });
});

describe('approvalRefusal', () => {
  const open = { required: true, deadline: 10_000 };
  it('takes an answer only while the remediation waits for one, before the deadline', () => {
    assert.equal(approvalRefusal(open, 9_999), undefined);
    assert.equal(
      approvalRefusal({ required: true }, 1e15),
      undefined,
      'before the wait starts: no deadline yet',
    );
    assert.match(
      approvalRefusal(open, 10_000)!,
      /^too late: the approval deadline passed at 1970-01-01T00:00:10.000Z/,
    );
    assert.equal(approvalRefusal({ required: false }, 0), 'this remediation needs no approval');
    assert.equal(
      approvalRefusal({ ...open, answered: { approve: true, by: 'al' } }, 0),
      'already approved by al',
    );
    assert.equal(
      approvalRefusal({ ...open, closed: 'it expired' }, 0),
      'it no longer waits for an approval: it expired',
    );
  });
});

describe('withRefusal', () => {
  it('counts every refusal and keeps the latest few', () => {
    let refused: RefusedApprovals | undefined;
    for (let i = 0; i < MAX_REFUSED_APPROVALS_KEPT + 5; i++)
      refused = withRefusal(refused, { at: i, via: 'approve signal', problem: `p${i}` });
    assert.equal(refused?.count, MAX_REFUSED_APPROVALS_KEPT + 5);
    assert.deepEqual(
      refused?.latest.map((r) => r.at),
      Array.from({ length: MAX_REFUSED_APPROVALS_KEPT }, (_, i) => i + 5),
    );
  });
});

describe('autoglm approve|reject', () => {
  it("refuses a bad --by or --reason before it connects, with the workflow's words", async () => {
    await assert.rejects(approvalCommand(true, ['remediate-x', '--by', 'al']), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(
        err.message,
        /^cannot approve: --reason is required: why \(shown in the verdict\)\nusage: autoglm approve/,
      );
      return true;
    });
    await assert.rejects(
      approvalCommand(false, [
        'remediate-x',
        '--by',
        ' ',
        '--reason',
        'r'.repeat(MAX_APPROVAL_REASON_CHARS + 1),
      ]),
      (err: unknown) => {
        assert.ok(err instanceof UsageError);
        assert.match(
          err.message,
          /^cannot reject: --by is blank: who decides .*; --reason is 1025 characters long; at most 1024/,
        );
        return true;
      },
    );
    await assert.rejects(approvalCommand(true, ['--reason', 'ok']), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /^usage: autoglm approve <workflowId>/);
      return true;
    });
  });
});
