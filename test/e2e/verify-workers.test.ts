/**
 * The verify step on the real services: a verify worker killed with SIGKILL mid-verification is
 * replaced and the new one still reaches the right verdict (it reads the evidence since the action
 * back from the topic and resumes from the heartbeat); two verify workers share the task queue (each
 * verification settles once, on either); a stopped worker leaves no consumer group behind.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import type { Verdict } from '../../services/common/contracts.js';
import { RemediationStarter } from '../../services/decide/workflow-starter.js';
import { ObservationFeeder } from '../support/observation-feeder.js';
import { SafetyHarness } from '../support/safety-harness.js';
import { spawnService } from '../support/service-process.js';

describe('verify workers (real Kafka and Temporal)', () => {
  const children: ChildProcess[] = [];
  let h: SafetyHarness;
  let feeder: ObservationFeeder | undefined;
  /** The verify condition (cpu below 70) holds on every observation of a fed entity. */
  const feed = (entity: string) =>
    feeder!.set(entity, { features: () => ({ 'cpu.avg': 50, 'cpu.count': 6 }) });

  before(async () => {
    h = await SafetyHarness.start({}, { verify: false });
    await h.startAct();
    feeder = new ObservationFeeder(h.producer, h.topics.observations, 1000);
  });

  after(async () => {
    await feeder?.stop();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await h?.stop();
  });

  /** The verify service as its own process, configured like the harness. */
  function startVerifyProcess(): ChildProcess {
    const child = spawnService('verify', h.config);
    children.push(child);
    return child;
  }

  const verifyOver = (stableFor: string) => ({
    verify: {
      conditions: { all: [{ fact: 'cpu.avg', operator: 'lessThan', value: 70 }] },
      within: '90s',
      stableFor,
    },
  });

  it('reaches the right verdict after the verify worker is killed mid-verification', async () => {
    const entity = h.entity('verify-kill');
    feed(entity);
    const first = startVerifyProcess();
    const { workflowId } = await new RemediationStarter(h.client, h.config).start(
      h.decision(entity, Date.now(), verifyOver('8s')),
    );
    const deadline = Date.now() + 60_000;
    while (h.callsFor(entity).length === 0) {
      assert.ok(Date.now() < deadline, 'the action reached the target');
      await sleep(100);
    }
    // The condition holds from now on; kill the worker before it has held for stableFor (8s), once
    // the verification has heartbeated (the server holds its details for the retry to resume from).
    const handle = h.client.workflow.getHandle(workflowId);
    const heartbeatBy = Date.now() + 30_000;
    for (;;) {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      const verifying = pending.find((a) => a.activityType?.name === 'verifyRemediation');
      if ((verifying?.heartbeatDetails?.payloads?.length ?? 0) > 0) break;
      assert.ok(Date.now() < heartbeatBy, 'the verification heartbeated within 30s');
      await sleep(200);
    }
    assert.equal(h.verdictsFor(entity).length, 0, 'no verdict yet when the worker dies');
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    startVerifyProcess();
    const verdict = await h.verdicts.waitFor<Verdict>((v) => v.workflowId === workflowId, 120_000);
    assert.equal(verdict.outcome, 'verified', JSON.stringify(verdict.evidence));
    const readBack = verdict.evidence.readBack as { complete: boolean; observations: number } | null;
    assert.ok(readBack?.complete, 'the new worker read the evidence since the action back');
    assert.ok(readBack.observations >= 3, `read back ${readBack.observations} observations`);
    assert.ok(verdict.evidence.resumedFrom, 'the retry saw the heartbeat of the killed attempt');
    assert.equal(h.callsFor(entity).length, 1, 'one action, no compensation');
    feeder!.delete(entity);
  });

  it('shares the task queue between two workers, and a stopped worker leaves no consumer group', async (t) => {
    for (const c of children.filter((c) => c.exitCode === null && c.signalCode === null)) {
      c.kill('SIGTERM');
      await new Promise((resolve) => c.once('exit', resolve));
    }
    const admin = h.kafka.admin();
    await admin.connect();
    const verifyGroups = async () =>
      (await admin.listGroups()).groups
        .map((g) => g.groupId)
        .filter((g) => g.startsWith(`${h.config.groupPrefix}-verify`));
    const before = new Set(await verifyGroups());
    const registries = [new Registry(), new Registry()];
    const workers = [await h.startVerify(registries[0]), await h.startVerify(registries[1])];
    const entities = Array.from({ length: 8 }, (_, i) => h.entity(`verify-share-${i}`));
    for (const e of entities) feed(e);
    const starter = new RemediationStarter(h.client, h.config);
    const ids = await Promise.all(
      entities.map(
        async (e) => (await starter.start(h.decision(e, Date.now(), verifyOver('2s')))).workflowId,
      ),
    );
    const verdicts = await Promise.all(
      ids.map((id) => h.verdicts.waitFor<Verdict>((v) => v.workflowId === id, 120_000)),
    );
    assert.deepEqual(new Set(verdicts.map((v) => v.outcome)), new Set(['verified']));
    const settled = await Promise.all(
      registries.map(async (r) =>
        ((await r.getSingleMetric('autoglm_verify_verifications_total')?.get())?.values ?? []).reduce(
          (s, v) => s + v.value,
          0,
        ),
      ),
    );
    assert.equal(settled[0]! + settled[1]!, entities.length, 'each verification settled once, on one worker');
    // Which worker polls first is Temporal's choice: a split is reported, not required.
    t.diagnostic(`verifications per worker: ${settled.join(' + ')}`);
    for (const e of entities) feeder!.delete(e);

    for (const w of workers) await w.stop();
    try {
      const left = (await verifyGroups()).filter((g) => !before.has(g));
      assert.deepEqual(left, [], 'the stopped workers left no consumer group behind');
    } finally {
      await admin.disconnect();
    }
  });
});
