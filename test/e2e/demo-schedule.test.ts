/**
 * The demo never goes quiet (issue #24): with the real loop (Kafka, Temporal, the rules engine) and
 * a rule whose remediation waits for an operator's approval, the fleet's schedule fills its three
 * slots, the loop decides on each and waits in Temporal for an approval, the fleet parks them from
 * the decisions topic and goes on injecting; the one approved afterwards acts and is judged right.
 */
// Before kafkajs loads (as every entry point): this file also runs on its own with `node --import tsx --test`.
import '../../services/common/kafkajs-aborted-filter.js';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Registry } from 'prom-client';
import { topicNames } from '../../services/common/config.js';
import type { Decision } from '../../services/common/contracts.js';
import { createKafka } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import type { Service } from '../../services/common/service.js';
import { connectClient } from '../../services/common/temporal.js';
import { workflowIdFor } from '../../services/decide/decision-id.js';
import { loadFleetConfig } from '../../services/fleet/fleet-config.js';
import { startFleet, type RunningFleet } from '../../services/fleet/main.js';
import { startLoop } from '../../services/loop.js';
import { approvalUpdate, statusQuery } from '../../workflows/definitions.js';
import { testConfig } from '../support/config.js';
import { fastCpuRule, writeRuleDir } from '../support/fast-loop.js';
import { deleteTopicsWithPrefix, TopicTap } from '../support/kafka.js';

/** The fast CPU rule, its scale-out waiting for an operator (as the tier-1 rollback does). */
const RULE = (() => {
  const r = fastCpuRule('e2e-demo-approval-cpu', '60s');
  return { ...r, event: { ...r.event, params: { ...r.event.params, approval: 'required' } } };
})();

describe('the fleet schedule goes on while incidents wait for approval (real loop and Temporal)', () => {
  const logger = createLogger('warn');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-demo-schedule-'));
  const keyFile = path.join(home, 'hmac.key');
  fs.writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const base = testConfig({ rulesDir: writeRuleDir([RULE]), actuatorHmacKeyFile: keyFile });
  let config = base;
  const kafka = createKafka(base, logger);
  const started: Service[] = [];
  let fleet: RunningFleet;
  let client: Client;
  let decisions: TopicTap;

  before(async () => {
    fleet = await startFleet(
      { config: base, logger, registry: new Registry() },
      loadFleetConfig(
        {},
        {
          services: '5',
          pods: '2',
          port: '0',
          scenarios: 'cpu_saturation',
          scenarioEvery: '3s',
          maxActive: '3',
          loopPoll: '2s',
        },
      ),
    );
    started.push(fleet);
    config = testConfig({
      topicPrefix: base.topicPrefix,
      groupPrefix: base.groupPrefix,
      actTaskQueue: base.actTaskQueue,
      verifyTaskQueue: base.verifyTaskQueue,
      rulesDir: base.rulesDir,
      actuatorHmacKeyFile: keyFile,
      httpActuatorUrl: `${fleet.controlOrigin}/actuate`,
    });
    started.push(await startLoop({ config, logger, registry: new Registry() }));
    client = await connectClient(config);
    decisions = await new TopicTap(kafka, topicNames(config).decisions, logger).start();
  });

  after(async () => {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    await decisions?.stop();
    if (client) {
      // This test's remediations only: by its own act task queue.
      const query = `TaskQueue = "${config.actTaskQueue}" AND ExecutionStatus = "Running"`;
      for await (const run of client.workflow.list({ query }))
        await client.workflow
          .getHandle(run.workflowId)
          .terminate('test finished')
          .catch((err: unknown) => {
            if (!(err instanceof WorkflowNotFoundError)) throw err;
          });
      await client.connection.close();
    }
    await deleteTopicsWithPrefix(kafka, base.topicPrefix);
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('injects past maxActiveIncidents while three wait for approval; an approved one then acts', async () => {
    const model = fleet.model;
    const waiting = () => model.incidents().filter((i) => i.parked?.kind === 'awaiting_approval');
    let mostBlocking = 0;
    const deadline = Date.now() + 100_000;
    // Three parked, and at least three more injected after the first three.
    while (Date.now() < deadline && !(waiting().length >= 3 && model.incidents().length >= 6)) {
      mostBlocking = Math.max(mostBlocking, model.blockingIncidents());
      await sleep(250);
    }
    const all = model.incidents();
    assert.ok(
      waiting().length >= 3,
      `3 incidents wait for approval: ${JSON.stringify(all.map((i) => [i.id, i.entity, i.parked?.kind]))}`,
    );
    assert.ok(all.length >= 6, `the schedule went on: ${all.length} incidents`);
    assert.ok(mostBlocking <= 3, `never more than 3 slots held (${mostBlocking})`);
    assert.ok(model.activeIncidents() > 3, `${model.activeIncidents()} active at once, past the 3 slots`);

    // Temporal agrees: each parked one's remediation waits for an approval.
    const first = waiting()[0]!;
    const decision = decisions.values<Decision>((d) => d.entity === first.entity)[0]!;
    assert.equal(first.parked?.workflowId, workflowIdFor(decision));
    const handle = client.workflow.getHandle(first.parked!.workflowId!);
    for (let i = 0; i < 40 && (await handle.query(statusQuery)).phase !== 'awaiting-approval'; i++)
      await sleep(250);
    assert.equal((await handle.query(statusQuery)).phase, 'awaiting-approval');

    // Approved: it acts, and the fleet judges it right.
    await handle.executeUpdate(approvalUpdate, {
      args: [{ approve: true, by: 'e2e', reason: 'the demo schedule test approves one' }],
    });
    const until = Date.now() + 30_000;
    while (Date.now() < until && !model.actionLog.some((a) => a.entity === first.entity)) await sleep(250);
    const acted = model.actionLog.find((a) => a.entity === first.entity);
    assert.deepEqual([acted?.action, acted?.verdict, acted?.incidentId], ['scale_out', 'right', first.id]);
  });
});
