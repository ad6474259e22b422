/**
 * What must never act, on the real services: URLs outside the allowlist, redirects, data: URLs,
 * commands outside the command folder, and stale input; plus the approval and status commands.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError } from '@temporalio/client';
import { Registry } from 'prom-client';
import { repoRoot } from '../../infra/paths.js';
import type { Decision, Verdict } from '../../services/common/contracts.js';
import { startDecide } from '../../services/decide/main.js';
import { workflowIdFor } from '../../services/decide/decision-id.js';
import { RemediationStarter } from '../../services/decide/workflow-starter.js';
import { waitForGroupCaughtUp } from '../support/group-offsets.js';
import { startActionTarget } from '../support/target.js';
import { produce } from '../support/kafka.js';
import { hotObservations, SafetyHarness } from '../support/safety-harness.js';
import { statusQuery } from '../../workflows/definitions.js';

describe('refusals, approvals and stale input (real services)', () => {
  let h: SafetyHarness;
  before(async () => {
    h = await SafetyHarness.start({ maxConcurrentPerAction: '2' });
  });
  after(async () => {
    await h?.stop();
  });

  it('refuses a URL outside the allowlist, a data: URL and a redirect, with no call made', async () => {
    const act = await h.startAct();
    const redirected = await startActionTarget();
    const redirector = http.createServer((_req, res) => {
      res.writeHead(307, { location: redirected.url });
      res.end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    const redirectorUrl = `http://127.0.0.1:${(redirector.address() as { port: number }).port}/actuate`;
    try {
      // A decision written by hand (not through decide's load check): the act worker refuses it too.
      const starter = new RemediationStarter(h.client, h.config);
      const cases = {
        metadata: 'http://169.254.169.254/latest/meta-data/',
        data: 'data:text/plain,ok',
        creds: `http://user:hunter2@127.0.0.1:${new URL(h.target.url).port}/actuate`,
      };
      const now = Date.now();
      for (const [name, url] of Object.entries(cases)) {
        const e = h.entity(`refuse-${name}`);
        await starter.start(h.decision(e, now, { actuator: { type: 'http', url } }));
        const v = await h.verdicts.waitFor<Verdict>((x) => x.entity === e, 30_000);
        assert.equal(v.outcome, 'failed');
        assert.match(String(v.evidence.error), /refused URL/);
        assert.doesNotMatch(JSON.stringify(v), /hunter2/);
        assert.equal(h.callsFor(e).length, 0);
      }
      // An allowlisted origin that redirects elsewhere: the redirect is refused, not followed.
      await act.stop();
      const act2 = await h.startAct({
        httpAllowedOrigins: [new URL(h.target.url).origin, new URL(redirectorUrl).origin],
      });
      try {
        const e = h.entity('refuse-redirect');
        await starter.start(h.decision(e, now, { actuator: { type: 'http', url: redirectorUrl } }));
        const v = await h.verdicts.waitFor<Verdict>((x) => x.entity === e, 30_000);
        assert.equal(v.outcome, 'failed');
        assert.match(String(v.evidence.error), /redirect to .* refused/);
        assert.equal(redirected.received.length, 0, 'the redirect target was never called');
      } finally {
        await act2.stop();
      }
    } finally {
      await act.stop();
      redirector.close();
      await redirected.close();
    }
  });

  it('refuses a command that escapes the command directory, before running anything', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-cmd-'));
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-outside-'));
    const marker = path.join(outside, 'ran');
    fs.writeFileSync(path.join(outside, 'evil.sh'), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
    fs.symlinkSync(path.join(outside, 'evil.sh'), path.join(dir, 'scale.sh'));
    const act = await h.startAct({ commandDir: dir });
    try {
      const e = h.entity('refuse-cmd');
      await new RemediationStarter(h.client, h.config).start(
        h.decision(e, Date.now(), { actuator: { type: 'command', command: 'scale.sh', args: [] } }),
      );
      const v = await h.verdicts.waitFor<Verdict>((x) => x.entity === e, 30_000);
      assert.equal(v.outcome, 'failed');
      assert.match(String(v.evidence.error), /outside|escape/i);
      assert.equal(fs.existsSync(marker), false, 'the script never ran');
    } finally {
      await act.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('tells where a remediation stands and takes an approval from the CLI', async () => {
    const act = await h.startAct();
    const cli = (...args: string[]) =>
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
            },
          },
          (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, out: stdout + stderr }),
        );
      });
    try {
      const e = h.entity('approve');
      const { workflowId } = await new RemediationStarter(h.client, h.config).start(
        h.decision(e, Date.now(), { approval: 'required' }),
      );
      const handle = h.client.workflow.getHandle(workflowId);
      const deadline = Date.now() + 20_000;
      while ((await handle.query(statusQuery).catch(() => undefined))?.phase !== 'awaiting-approval') {
        assert.ok(Date.now() < deadline, 'the remediation reaches awaiting-approval');
        await sleep(100);
      }
      const status = await cli('status', e);
      assert.equal(status.code, 0, status.out);
      assert.match(status.out, new RegExp(`in flight: ${workflowId}`));
      assert.match(status.out, /phase=awaiting-approval/);
      assert.match(status.out, /answer with: autoglm approve\|reject/);

      const noReason = await cli('approve', workflowId);
      assert.equal(noReason.code, 1);
      assert.match(noReason.out, /--reason/);
      const approved = await cli('approve', workflowId, '--by', 'carol', '--reason', 'checked the graphs');
      assert.equal(approved.code, 0, approved.out);
      assert.match(approved.out, /approved by carol/);
      const again = await cli('reject', workflowId, '--by', 'dave', '--reason', 'too late');
      assert.equal(again.code, 1);
      assert.match(again.out, /already approved by carol/);

      const verdict = await h.verdicts.waitFor<Verdict>((v) => v.workflowId === workflowId, 30_000);
      assert.deepEqual((verdict.evidence.approval as { by: string }).by, 'carol');
      assert.equal(h.callsFor(e).length, 1);
      const done = await cli('status', workflowId, '--json');
      assert.equal(JSON.parse(done.out).remediations[0].status.phase, 'done');
    } finally {
      await act.stop();
    }
  });

  it('replaying a day of old observations starts nothing and publishes every decision as stale', async () => {
    const decide = await startDecide({ config: h.config, logger: h.logger, registry: new Registry() });
    try {
      const e = h.entity('replay');
      const now = Date.now();
      // One window every 5 minutes over the 24 hours that ended 10 minutes ago.
      const ends = Array.from({ length: 288 }, (_, i) => now - 10 * 60_000 - (287 - i) * 5 * 60_000);
      await produce(
        h.producer,
        h.topics.observations,
        hotObservations(e, ends).map((o) => ({ key: e, value: o })),
      );
      // The cooldown (10m) lets one decision through every other window: 144 decisions.
      await h.decisions.waitFor<Decision>(
        () => h.decisions.values<Decision>((d) => d.entity === e).length >= 144,
        60_000,
      );
      const decisions = h.decisions.values<Decision>((d) => d.entity === e);
      assert.equal(decisions.length, 144);
      assert.ok(decisions.every((d) => d.stale && d.mode === 'enforce'));
      // decide commits a batch once its starts are done: after this, a start would have happened.
      await waitForGroupCaughtUp(h.kafka, `${h.config.groupPrefix}-decide`, h.topics.observations);
      // Read by id (strongly consistent), not through the eventually consistent visibility list.
      for (const d of decisions)
        await assert.rejects(
          h.client.workflow.getHandle(workflowIdFor(d)).describe(),
          WorkflowNotFoundError,
          `no remediation started for ${d.decisionId}`,
        );
      assert.equal(h.callsFor(e).length, 0);
    } finally {
      await decide.stop();
    }
  });
});
