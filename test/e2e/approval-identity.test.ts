/**
 * Approver identity on the real services: the act service with an approvers file, the real
 * `autoglm` CLI signing with an approver's key (`--key-file`, AUTOGLM_APPROVER_KEY_FILE), the real
 * verify service and the verdict on Kafka. Unsigned and out-of-scope approvals never act; a signed
 * one from who may acts, and no key reaches the verdict.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../../infra/paths.js';
import type { Verdict } from '../../services/common/contracts.js';
import { RemediationStarter } from '../../services/decide/workflow-starter.js';
import { statusQuery } from '../../workflows/definitions.js';
import { SafetyHarness } from '../support/safety-harness.js';

describe('approver identity (real services and CLI)', () => {
  let h: SafetyHarness;
  let dir: string;
  const aliceSecret = crypto.randomBytes(32).toString('base64');
  before(async () => {
    h = await SafetyHarness.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'approvers-e2e-'));
    fs.writeFileSync(path.join(dir, 'alice.key'), aliceSecret, { mode: 0o600 });
    const bob = crypto.generateKeyPairSync('ed25519');
    fs.writeFileSync(path.join(dir, 'bob.pem'), bob.privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
    });
    fs.writeFileSync(path.join(dir, 'bob.pub'), bob.publicKey.export({ type: 'spki', format: 'pem' }));
    fs.writeFileSync(
      path.join(dir, 'approvers.json'),
      JSON.stringify({
        approvers: [
          { name: 'alice', team: 'sre', keyFile: 'alice.key' },
          { name: 'bob', team: 'payments', services: ['payments'], publicKeyFile: 'bob.pub' },
        ],
      }),
    );
  });
  after(async () => {
    await h?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const cli = (env: Record<string, string>, ...args: string[]) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      execFile(
        process.execPath,
        [path.join(repoRoot, 'bin/autoglm.js'), ...args],
        {
          cwd: repoRoot,
          env: {
            ...process.env,
            KAFKA_BROKERS: h.config.kafkaBrokers.join(','),
            TEMPORAL_ADDRESS: h.config.temporalAddress,
            AUTOGLM_TOPIC_PREFIX: h.config.topicPrefix,
            ...env,
          },
        },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, out: stdout + stderr }),
      );
    });

  it('refuses unsigned and out-of-scope approvals from the CLI and acts on a signed one', async () => {
    const act = await h.startAct({ approversFile: path.join(dir, 'approvers.json') });
    try {
      const e = h.entity('checkout-approve');
      const decision = h.decision(e, Date.now(), { approval: 'required' });
      const { workflowId } = await new RemediationStarter(h.client, h.config).start({
        ...decision,
        facts: { ...decision.facts, service: 'checkout' },
      });
      const handle = h.client.workflow.getHandle(workflowId);
      const deadline = Date.now() + 20_000;
      for (;;) {
        const s = await handle.query(statusQuery).catch(() => undefined);
        if (s?.phase === 'awaiting-approval' && s.approvers) break;
        assert.ok(Date.now() < deadline, 'the remediation waits for approval and knows who may answer');
        await sleep(100);
      }
      const status = await cli({}, 'status', workflowId);
      assert.equal(status.code, 0, status.out);
      assert.match(status.out, /signed answers only; may approve: alice \(any listed approver may reject\)/);
      assert.match(status.out, /answer with: autoglm approve\|reject .* --key-file <your key>/);

      const unsigned = await cli({}, 'approve', workflowId, '--by', 'alice', '--reason', 'looks right');
      assert.equal(unsigned.code, 1, unsigned.out);
      assert.match(
        unsigned.out,
        /cannot approve: approver identity is checked here: sign the answer with "alice"'s key/,
      );
      const outOfScope = await cli(
        { AUTOGLM_APPROVER_KEY_FILE: path.join(dir, 'bob.pem') },
        'approve',
        workflowId,
        '--by',
        'bob',
        '--reason',
        'looks right',
      );
      assert.equal(outOfScope.code, 1, outOfScope.out);
      assert.match(
        outOfScope.out,
        /cannot approve: "bob" may not approve a remediation of service checkout: alice may approve it; "bob" may still reject it/,
      );
      assert.equal(h.callsFor(e).length, 0, 'nothing acted');

      const signed = await cli(
        {},
        'approve',
        workflowId,
        '--by',
        'alice',
        '--reason',
        'checked the graphs',
        '--key-file',
        path.join(dir, 'alice.key'),
      );
      assert.equal(signed.code, 0, signed.out);
      assert.match(
        signed.out,
        /approved by alice \(checked the graphs\); signed by alice \(team sre\), hmac-sha256 key checked by the act worker/,
      );
      const verdict = await h.verdicts.waitFor<Verdict>((v) => v.workflowId === workflowId, 60_000);
      // It acted (no observations are fed here, so verification itself may end expired).
      assert.ok(verdict.evidence.acted, JSON.stringify(verdict.evidence).slice(0, 500));
      assert.deepEqual(verdict.evidence.approvalIdentity, {
        checked: true,
        approver: 'alice',
        team: 'sre',
        key: 'hmac-sha256',
      });
      assert.equal(
        (verdict.evidence.refusedApprovals as { count: number }).count,
        1,
        'bob, by the act worker',
      );
      assert.ok(!JSON.stringify(verdict).includes(aliceSecret), 'no key in the verdict');
      assert.equal(h.callsFor(e).length, 1);
    } finally {
      await act.stop();
    }
  });
});
