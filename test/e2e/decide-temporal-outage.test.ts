/**
 * The decide service while Temporal is stopped for a while (real Kafka; the real Temporal server
 * behind a TCP proxy the test cuts and restores, so other tests keep their server): each decision is
 * published once, failed starts are counted, readiness turns false, and once Temporal is back every
 * decision has exactly one workflow and readiness is true again.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { Kafka, Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import { topicNames, type Config } from '../../services/common/config.js';
import type { Decision } from '../../services/common/contracts.js';
import { connectProducer, createKafka, ensureTopics, sendJson } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import type { Service } from '../../services/common/service.js';
import { connectClient } from '../../services/common/temporal.js';
import { workflowIdFor } from '../../services/decide/decision-id.js';
import { startDecide } from '../../services/decide/main.js';
import { fastCpuRule, writeRuleDir } from '../support/fast-loop.js';
import { hotObservations } from '../support/safety-harness.js';
import { testConfig, unique } from '../support/config.js';
import { deleteTopicsWithPrefix, TopicTap } from '../support/kafka.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { terminateTestRuns } from '../support/temporal.js';

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await sleep(100);
  }
}

describe('decide while Temporal is stopped for a while (real Kafka and Temporal)', () => {
  const logger = createLogger('silent');
  const rulesDir = writeRuleDir([fastCpuRule('outage-cpu-scale-out', '5s')]);
  const registry = new Registry();
  const entities = Array.from({ length: 4 }, () => unique('outage'));
  let config: Config;
  let proxy: TcpProxy;
  let kafka: Kafka;
  let producer: Producer;
  let decisions: TopicTap;
  let client: Client;
  let decide: Service | undefined;

  before(async () => {
    const base = testConfig();
    proxy = await TcpProxy.start(base.temporalAddress);
    config = testConfig({
      rulesDir,
      temporalAddress: proxy.address,
      startTimeout: '1s',
      maxStartFailures: '2',
    });
    kafka = createKafka(config, logger);
    await ensureTopics(kafka, Object.values(topicNames(config)), config.topicPartitions);
    producer = await connectProducer(kafka);
    decisions = await new TopicTap(kafka, topicNames(config).decisions, logger).start();
    client = await connectClient(base);
    decide = await startDecide({ config, logger, registry });
  });

  after(async () => {
    await decide?.stop();
    await proxy?.down();
    await decisions?.stop();
    await producer?.disconnect();
    if (client) await terminateTestRuns(client, config.topicPrefix, entities);
    await client?.connection.close();
    if (kafka) await deleteTopicsWithPrefix(kafka, config.topicPrefix);
    fs.rmSync(rulesDir, { recursive: true, force: true });
  });

  it('publishes each decision once, counts failed starts, turns readiness false, then starts each once', async () => {
    const failures = async () =>
      (await registry.getSingleMetric('autoglm_decide_start_failures_total')?.get())?.values[0]?.value ?? 0;
    assert.equal(decide!.readiness()['decide.temporal'], true);
    await proxy.down();
    const now = Date.now();
    const observations = entities.flatMap((e) => hotObservations(e, [now]));
    await sendJson(
      producer,
      topicNames(config).observations,
      observations.map((o) => ({ key: o.entity, value: o })),
    );
    await until('readiness to turn false', () => decide!.readiness()['decide.temporal'] === false, 30_000);
    // Let the retries run for a while: the decisions must not be published again.
    await until('several failed starts', async () => (await failures()) >= 6, 30_000);
    const mine = () => decisions.values<Decision>((d) => entities.includes(d.entity));
    assert.equal(mine().length, entities.length, 'one decision per observation while Temporal is down');

    await proxy.up();
    const ids = mine().map((d) => workflowIdFor(d));
    await until(
      'every decision to have its workflow',
      async () => {
        const found = await Promise.all(
          ids.map((id) =>
            client.workflow
              .getHandle(id)
              .describe()
              .then(() => true)
              .catch(() => false),
          ),
        );
        return found.every(Boolean);
      },
      60_000,
    );
    await until('readiness to turn true', () => decide!.readiness()['decide.temporal'] === true, 30_000);
    await sleep(1_000);
    assert.equal(mine().length, entities.length, 'still one decision per observation after Temporal returns');
    assert.ok((await failures()) >= 6);
    for (const entity of entities) {
      const query = `WorkflowType = "remediate" AND AutoglmEntity = "${entity}"`;
      let runs = 0;
      await until(
        `the visibility store to list ${entity}'s workflow`,
        async () => {
          const listed = [];
          for await (const run of client.workflow.list({ query })) listed.push(run.workflowId);
          runs = listed.length;
          return runs > 0;
        },
        30_000,
      );
      assert.equal(runs, 1, `exactly one workflow for ${entity}`);
    }
  });
});
