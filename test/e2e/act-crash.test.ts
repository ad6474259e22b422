/**
 * Durability: the act worker is killed with SIGKILL while an action is at the target; a new act
 * worker takes over, the activity is retried with the same idempotency key, and the target (which
 * de-duplicates by that key, as a well-behaved one does) sees exactly one effective action.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import type { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { repoRoot } from '../../infra/paths.js';
import { topicNames, type Config } from '../../services/common/config.js';
import type { Decision, Verdict } from '../../services/common/contracts.js';
import { createKafka } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import type { Service } from '../../services/common/service.js';
import { connectClient } from '../../services/common/temporal.js';
import { decisionIdFor } from '../../services/decide/decision-id.js';
import { RemediationStarter } from '../../services/decide/workflow-starter.js';
import {
  startActionTarget,
  type ActionTarget,
  type ReceivedAction,
} from '../../services/fleet-sim/target.js';
import { startVerify } from '../../services/verify/main.js';
import { testConfig, unique } from '../support/config.js';
import { deleteTopicsWithPrefix, TopicTap } from '../support/kafka.js';
import { terminateTestRuns } from '../support/temporal.js';

const HMAC_KEY = 'crash-test-hmac-key-0123456789abcdef';

describe('an act worker killed during an actuation', () => {
  const logger = createLogger('warn');
  const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-key-'));
  const keyFile = path.join(keyDir, 'hmac.key');
  fs.writeFileSync(keyFile, HMAC_KEY);
  const children: ChildProcess[] = [];
  let target: ActionTarget;
  let config: Config;
  let kafka: Kafka;
  let client: Client;
  let verify: Service;
  let verdicts: TopicTap;
  let onFirstAction: (a: ReceivedAction) => Promise<void> = async () => {};
  const entity = unique('crash');

  before(async () => {
    target = await startActionTarget({
      hmacKey: Buffer.from(HMAC_KEY),
      hold: async (a) => {
        if (a.effective) await onFirstAction(a);
      },
    });
    config = testConfig({
      httpActuatorUrl: target.url,
      httpActuatorTimeout: '2s',
      actuatorHmacKeyFile: keyFile,
    });
    verify = await startVerify({ config, logger, registry: new Registry() });
    kafka = createKafka(config, logger);
    client = await connectClient(config);
    verdicts = await new TopicTap(kafka, topicNames(config).verdicts, logger).start();
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await verdicts?.stop();
    await verify?.stop();
    if (client) await terminateTestRuns(client, config.topicPrefix, [entity]);
    if (kafka) await deleteTopicsWithPrefix(kafka, config.topicPrefix);
    await client?.connection.close();
    await target?.close();
    fs.rmSync(keyDir, { recursive: true, force: true });
  });

  /** The act service as its own process, configured like this test's in-process services. */
  function startActProcess(): ChildProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'services/act/main.ts')], {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        KAFKA_BROKERS: config.kafkaBrokers.join(','),
        TEMPORAL_ADDRESS: config.temporalAddress,
        AUTOGLM_TOPIC_PREFIX: config.topicPrefix,
        AUTOGLM_TOPIC_PARTITIONS: String(config.topicPartitions),
        AUTOGLM_GROUP_PREFIX: config.groupPrefix,
        AUTOGLM_ACT_TASK_QUEUE: config.actTaskQueue,
        AUTOGLM_VERIFY_TASK_QUEUE: config.verifyTaskQueue,
        AUTOGLM_HTTP_ACTUATOR_URL: target.url,
        AUTOGLM_HTTP_ACTUATOR_TIMEOUT: '2s',
        AUTOGLM_ACTUATOR_HMAC_KEY_FILE: keyFile,
        AUTOGLM_OPS_PORT: '0',
        AUTOGLM_LOG_FORMAT: 'json',
        LOG_LEVEL: 'warn',
      },
    });
    child.stderr?.resume();
    children.push(child);
    return child;
  }

  it('completes the run with exactly one effective action at the target', async () => {
    const first = startActProcess();
    let killedAt = 0;
    onFirstAction = async () => {
      // The action reached the target and the worker has not heard back: kill it now.
      first.kill('SIGKILL');
      await new Promise((resolve) => first.once('exit', resolve));
      killedAt = Date.now();
      startActProcess();
    };
    const end = Date.now();
    const window = { start: end - 3000, end };
    const decision: Decision = {
      decisionId: decisionIdFor(entity, 'crash-rule', window),
      entity,
      rule: 'crash-rule',
      ruleVersion: 'test',
      mode: 'enforce',
      action: 'restart',
      args: { entity },
      actuator: { type: 'http' },
      cooldown: '10m',
      approval: 'none',
      verify: {
        conditions: { all: [{ fact: 'cpu.avg', operator: 'lessThan', value: 70 }] },
        within: '1s',
        stableFor: '0s',
      },
      incident: null,
      facts: {},
      window,
      stale: false,
      ts: end,
    };
    const { workflowId } = await new RemediationStarter(client, config).start(decision);
    const verdict = await verdicts.waitFor<Verdict>((v) => v.workflowId === workflowId, 120_000);
    assert.ok(killedAt > 0, 'the worker was killed during the actuation');
    assert.equal(first.signalCode, 'SIGKILL');
    const calls = target.received.filter((a) => a.body.entity === entity && a.body.action === 'restart');
    assert.ok(calls.length >= 2, `the action was retried after the crash (${calls.length} requests)`);
    assert.deepEqual(
      new Set(calls.map((c) => c.idempotencyKey)),
      new Set([workflowId]),
      'one idempotency key',
    );
    assert.equal(calls.filter((c) => c.effective).length, 1, 'exactly one effective action');
    assert.ok(calls.every((c) => c.signed));
    assert.ok(verdict.evidence.acted, 'the run went on past the action to verification and a verdict');
  });
});
