import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { Kafka, Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import { topicNames } from '../../services/common/config.js';
import type { DeadLetter, Decision, Observation, Verdict } from '../../services/common/contracts.js';
import { connectProducer, createKafka } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import type { Service } from '../../services/common/service.js';
import { connectClient } from '../../services/common/temporal.js';
import { workflowIdFor } from '../../services/decide/decision-id.js';
import { fastCpuRule, writeRuleDir } from '../support/fast-loop.js';
import { waitForGroupCaughtUp, waitForTapCaughtUp } from '../support/group-offsets.js';
import { terminateTestRuns } from '../support/temporal.js';
import { startActionTarget, type ActionTarget } from '../support/target.js';
import { startLoop } from '../../services/loop.js';
import {
  ACTION_KEY,
  ENTITY_KEY,
  INCIDENT_CLASS_KEY,
  RULE_KEY,
  statusQuery,
  VERDICT_KEY,
} from '../../workflows/definitions.js';
import { testConfig, unique } from '../support/config.js';
import { deleteTopicsWithPrefix, produce, streamMetric, TopicTap } from '../support/kafka.js';

/** The test rule: the starter rule's shape with windows short enough for a test. */
const RULE = fastCpuRule('e2e-cpu-scale-out', '8s');

/** A rule on memory that compensates and escalates when verification fails. */
const MEM_RULE = {
  name: 'e2e-mem-restart',
  conditions: { all: [{ fact: 'mem.avg', operator: 'greaterThan', value: 90 }] },
  event: {
    type: 'remediate',
    params: {
      action: 'restart',
      args: { entity: '{{entity}}' },
      verify: { conditions: { all: [{ fact: 'mem.avg', operator: 'lessThan', value: 50 }] }, within: '4s' },
      onVerifyFailure: { action: 'rollback', args: { entity: '{{entity}}' } },
      escalate: { action: 'page', args: { summary: 'restart of {{entity}} did not help' } },
    },
  },
};

describe('the loop on real Kafka and Temporal: sense → decide → act → verify', () => {
  const logger = createLogger('warn');
  const rulesDir = writeRuleDir([RULE, MEM_RULE]);
  let target: ActionTarget;
  let config: ReturnType<typeof testConfig>;
  let topics: ReturnType<typeof topicNames>;
  let kafka: Kafka;
  let producer: Producer;
  let client: Client;
  let registry: Registry;
  let loop: Service | undefined;
  const taps: Record<'observations' | 'decisions' | 'verdicts' | 'dlq', TopicTap> = {} as never;
  /** Every entity a test used: their remediations and guards are terminated at the end. */
  const entities = new Set<string>();
  const entityNamed = (name: string) => {
    const e = unique(name);
    entities.add(e);
    return e;
  };

  before(async () => {
    target = await startActionTarget();
    config = testConfig({ rulesDir, httpActuatorUrl: target.url });
    topics = topicNames(config);
    registry = new Registry();
    loop = await startLoop({ config, logger, registry });
    kafka = createKafka(config, logger);
    producer = await connectProducer(kafka);
    client = await connectClient(config);
    for (const name of ['observations', 'decisions', 'verdicts', 'dlq'] as const) {
      taps[name] = await new TopicTap(kafka, topics[name], logger).start();
    }
  });

  after(async () => {
    for (const tap of Object.values(taps)) await tap.stop();
    await loop?.stop();
    if (client) await terminateTestRuns(client, config.topicPrefix, entities);
    if (kafka) await deleteTopicsWithPrefix(kafka, config.topicPrefix);
    await producer?.disconnect();
    await client?.connection.close();
    await target?.close();
  });

  const verdictFor = (entity: string) => taps.verdicts.values<Verdict>((v) => v.entity === entity)[0];
  const decisionsFor = (entity: string) => taps.decisions.values<Decision>((d) => d.entity === entity);

  it('remediates high CPU once and verifies the recovery', async () => {
    const entity = entityNamed('hot');
    const started = Date.now();
    await streamMetric(
      producer,
      topics.metrics,
      { entity, metric: 'cpu', value: 95 },
      {
        everyMs: 200,
        maxMs: 30_000,
        until: () => decisionsFor(entity).length > 0,
      },
    );
    const decision = await taps.decisions.waitFor<Decision>((d) => d.entity === entity, 1000);
    const observation = taps.observations.values<Observation>(
      (o) => o.entity === entity && o.window.end === decision.window.end,
    )[0];
    assert.ok(observation, 'the decision comes from an observation on autoglm.observations');
    assert.ok(observation.features['cpu.avg']! > 85);
    assert.equal(decision.action, 'scale_out');
    assert.deepEqual(decision.args, { entity, by: 1 });

    const handle = client.workflow.getHandle(workflowIdFor(decision));
    const { runId } = await handle.describe();
    assert.ok(handle.workflowId.startsWith(`remediate-${entity}-${RULE.name}-`), handle.workflowId);
    const description = await handle.describe();
    // The Temporal UI's list and page read as sentences: summary and details without opening the input.
    assert.match(
      (await description.staticSummary()) ?? '',
      new RegExp(`^\\[P3\\] scale_out ${entity} — rule ${RULE.name}, incident \\w+ \\(\\d\\.\\d\\d\\)$`),
    );
    const details = (await description.staticDetails()) ?? '';
    assert.match(details, /triggered by: .*`cpu\.avg` = \d/);
    assert.match(details, new RegExp(`incident: ${decision.incident?.class}, confidence`));
    assert.equal(description.typedSearchAttributes.get(ENTITY_KEY), entity);
    assert.equal(description.typedSearchAttributes.get(ACTION_KEY), 'scale_out');
    assert.equal(description.typedSearchAttributes.get(RULE_KEY), RULE.name);
    // The shipped classifier ran in decide: its answer is in the decision and the search attributes.
    assert.ok(decision.incident, "the decision carries the classifier's incident");
    assert.match(decision.incident.modelVersion, /^incident-\d{14}-[0-9a-f]{8}$/);
    assert.ok(decision.incident.confidence > 0 && decision.incident.confidence <= 1);
    assert.equal(description.typedSearchAttributes.get(INCIDENT_CLASS_KEY), decision.incident.class);
    assert.equal(
      ((await description.memo?.decision) as Decision | undefined)?.decisionId,
      decision.decisionId,
    );

    await streamMetric(
      producer,
      topics.metrics,
      { entity, metric: 'cpu', value: 20 },
      {
        everyMs: 200,
        maxMs: 30_000,
        until: () => verdictFor(entity) !== undefined,
      },
    );
    const verdict = verdictFor(entity)!;
    const elapsedMs = Date.now() - started;
    logger.warn(
      { elapsedMs, entity },
      'first bad metric to verdict (with the recovery produced once the action landed)',
    );
    assert.equal(verdict.outcome, 'verified', JSON.stringify(verdict.evidence));
    assert.equal(verdict.decisionId, decision.decisionId);
    assert.equal(verdict.workflowId, handle.workflowId);
    const calls = target.received.filter((a) => a.body.entity === entity);
    assert.equal(calls.length, 1, 'one HTTP call to the target');
    assert.equal(calls[0]?.idempotencyKey, handle.workflowId);
    assert.equal((await handle.describe()).typedSearchAttributes.get(VERDICT_KEY), 'verified');
    assert.equal((await handle.query(statusQuery)).phase, 'done');
    // Each activity says what it does in the timeline (its user metadata summary).
    const summaries = ((await handle.fetchHistory()).events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => Buffer.from(e.userMetadata?.summary?.data ?? new Uint8Array(0)).toString('utf8'));
    assert.ok(
      summaries.some((s) => s.includes(`scale_out ${entity} via the http actuator`)),
      JSON.stringify(summaries),
    );
    assert.ok(
      summaries.some((s) => s.includes(`verify ${entity} within`)),
      JSON.stringify(summaries),
    );

    // Replay the observation that made the decision, as after a crash before the offset commit.
    const raw = taps.observations.messages.find(
      (m) =>
        (m.value as Observation).entity === entity &&
        (m.value as Observation).window.end === decision.window.end,
    )!;
    await producer.send({
      topic: topics.observations,
      acks: -1,
      messages: [{ key: entity, value: raw.raw }],
    });
    // decide makes the same decision again and tries its start: wait for it to be refused as a duplicate.
    const duplicateStarts = async () =>
      (await registry.getSingleMetric('autoglm_decide_decisions_total')?.get())?.values.find(
        (v) => v.labels.result === 'duplicate' && v.labels.rule === RULE.name,
      )?.value ?? 0;
    const deadline = Date.now() + 20_000;
    while ((await duplicateStarts()) === 0 && Date.now() < deadline) await sleep(100);
    assert.equal(await duplicateStarts(), 1, 'the replayed decision was refused as a duplicate start');
    // decide publishes before it starts: a republished decision is on the topic; read it all.
    await waitForTapCaughtUp(kafka, taps.decisions, topics.decisions);
    assert.deepEqual(
      decisionsFor(entity).map((d) => d.decisionId),
      [decision.decisionId],
      'the decision was published once, not again on the replay',
    );
    // The replay can only start the same workflow id again: read by id (strongly consistent), not
    // through the eventually consistent visibility list; still the first run, and it is closed.
    const now = await handle.describe();
    assert.equal(now.runId, runId, 'the replayed decision started no second run');
    assert.equal(now.status.name, 'COMPLETED');
    assert.equal(target.received.filter((a) => a.body.entity === entity).length, 1);
  });

  it('gives a failed verdict when the metrics never recover within the deadline', async () => {
    const entity = entityNamed('stuck');
    await streamMetric(
      producer,
      topics.metrics,
      { entity, metric: 'cpu', value: 97 },
      {
        everyMs: 200,
        maxMs: 45_000,
        until: () => verdictFor(entity) !== undefined,
      },
    );
    const verdict = verdictFor(entity);
    assert.ok(verdict, 'a verdict arrives');
    assert.equal(verdict.outcome, 'failed');
    assert.equal(verdict.evidence.verification, 'failed');
    assert.ok((verdict.evidence.observationsChecked as number) > 0);
    assert.equal(decisionsFor(entity).length, 1, 'cooldown holds later windows back');
    assert.equal(target.received.filter((a) => a.body.entity === entity).length, 1);
  });

  it('makes no decision for healthy metrics', async () => {
    const entity = entityNamed('healthy');
    let sent = 0;
    sent = await streamMetric(
      producer,
      topics.metrics,
      { entity, metric: 'cpu', value: 35 },
      {
        everyMs: 200,
        maxMs: 4000,
        until: () => false,
      },
    );
    await taps.observations.waitFor<Observation>(
      (o) => o.entity === entity && o.features['cpu.count']! >= 10,
      10_000,
    );
    // A sentinel after the healthy stream: once the decide step has handled it, it has handled them all.
    const sentinel = entityNamed('sentinel');
    await streamMetric(
      producer,
      topics.metrics,
      { entity: sentinel, metric: 'cpu', value: 99 },
      {
        everyMs: 200,
        maxMs: 20_000,
        until: () => decisionsFor(sentinel).length > 0,
      },
    );
    assert.ok(sent >= 15);
    assert.ok(decisionsFor(sentinel).length > 0, 'decide is running: the sentinel was decided');
    // decide has handled every observation published so far (it commits a batch once handled),
    // and the tap has read every decision published so far: a decision for the entity would be seen.
    await waitForGroupCaughtUp(kafka, `${config.groupPrefix}-decide`, topics.observations);
    await waitForTapCaughtUp(kafka, taps.decisions, topics.decisions);
    assert.equal(decisionsFor(entity).length, 0);
    assert.equal(target.received.filter((a) => a.body.entity === entity).length, 0);
  });

  it('compensates and escalates when verification fails, and says so in the verdict', async () => {
    const entity = entityNamed('leaky');
    await streamMetric(
      producer,
      topics.metrics,
      { entity, metric: 'mem', value: 97 },
      {
        everyMs: 200,
        maxMs: 45_000,
        until: () => verdictFor(entity) !== undefined,
      },
    );
    const verdict = verdictFor(entity);
    assert.ok(verdict, 'a verdict arrives');
    assert.equal(verdict.outcome, 'compensated');
    assert.equal(verdict.action, 'restart');
    assert.equal(verdict.evidence.verification, 'failed');
    assert.deepEqual(
      target.received.filter((a) => a.body.entity === entity).map((a) => [a.body.action, a.idempotencyKey]),
      [
        ['restart', verdict.workflowId],
        ['rollback', `${verdict.workflowId}/compensate`],
        ['page', `${verdict.workflowId}/escalate`],
      ],
    );
    const page = target.received.find((a) => a.idempotencyKey === `${verdict.workflowId}/escalate`);
    // The page carries what the operator reads: the summary and the runbook sections retrieval found.
    const { summary, runbooks, ...rest } = (page?.body.args ?? {}) as Record<string, unknown>;
    assert.equal(summary, `restart of ${entity} did not help`);
    assert.deepEqual(rest, {});
    assert.ok(Array.isArray(runbooks) && runbooks.length > 0, 'the page links runbook sections');
    for (const r of runbooks as unknown[])
      assert.match(String(r), /^.+: runbooks\/[a-z0-9.-]+\.md#[a-z0-9-]+$/);
    const status = await client.workflow.getHandle(verdict.workflowId).query(statusQuery);
    assert.equal(status.verdict?.outcome, 'compensated');
  });

  it('sends malformed input to the dead-letter topic with a reason and keeps consuming', async () => {
    const entity = entityNamed('bad');
    await produce(producer, topics.metrics, [
      { key: entity, value: '{"entity": "' },
      { key: entity, value: { entity, metric: 'cpu', value: 'high', ts: Date.now() } },
    ]);
    const letters = await taps.dlq
      .waitFor<DeadLetter>(() => taps.dlq.values<DeadLetter>((d) => d.key === entity).length >= 2, 20_000)
      .then(() => taps.dlq.values<DeadLetter>((d) => d.key === entity));
    assert.deepEqual(letters.map((l) => l.reason).sort(), ['not_json', 'schema']);
    const schema = letters.find((l) => l.reason === 'schema')!;
    assert.equal(schema.topic, topics.metrics);
    assert.deepEqual(
      schema.issues.map((i) => i.path),
      ['value'],
    );
    assert.match(Buffer.from(schema.value!, 'base64').toString('utf8'), /"high"/);
    await produce(producer, topics.metrics, [
      { key: entity, value: { entity, metric: 'cpu', value: 10, ts: Date.now() } },
    ]);
    await taps.observations.waitFor<Observation>((o) => o.entity === entity, 20_000);
  });
});
