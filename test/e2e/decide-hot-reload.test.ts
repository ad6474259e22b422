/**
 * Hot reload on the real decide service (real Kafka and Temporal): while observations flow, a rule
 * file is replaced by a broken one (refused; the old rule keeps deciding), then by a fixed one (the
 * new rule decides). Every observation gets its decision, each from the set deciding at the time.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import { topicNames, type Config } from '../../services/common/config.js';
import type { Decision, Observation } from '../../services/common/contracts.js';
import { connectProducer, createKafka, ensureTopics, sendJson } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import type { Service } from '../../services/common/service.js';
import { startDecide } from '../../services/decide/main.js';
import { fastCpuRule, writeRuleDir } from '../support/fast-loop.js';
import { testConfig, unique } from '../support/config.js';
import { deleteTopicsWithPrefix, TopicTap } from '../support/kafka.js';

/** A shadow rule (published, never started) on `fact` > 85; the file name stays the same across versions. */
function shadowRule(name: string, fact: string) {
  const rule = fastCpuRule(name, '5s');
  rule.conditions.all = [{ fact, operator: 'greaterThan', value: 85 }];
  return { ...rule, event: { ...rule.event, params: { ...rule.event.params, mode: 'shadow' } } };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await sleep(50);
  }
}

describe('decide hot reload (real Kafka and Temporal)', () => {
  const logger = createLogger('silent');
  const rulesDir = writeRuleDir([]);
  const file = path.join(rulesDir, 'live.json');
  const registry = new Registry();
  const run = unique('reload');
  let config: Config;
  let kafka: Kafka;
  let producer: Producer;
  let decisions: TopicTap;
  let decide: Service | undefined;

  before(async () => {
    fs.writeFileSync(file, JSON.stringify(shadowRule('cpu-rule', 'cpu.avg')));
    config = testConfig({ rulesDir, rulesReloadInterval: '200ms' });
    kafka = createKafka(config, logger);
    await ensureTopics(kafka, Object.values(topicNames(config)), config.topicPartitions);
    producer = await connectProducer(kafka);
    decisions = await new TopicTap(kafka, topicNames(config).decisions, logger).start();
    decide = await startDecide({ config, logger, registry });
  });

  after(async () => {
    await decide?.stop();
    await decisions?.stop();
    await producer?.disconnect();
    if (kafka) await deleteTopicsWithPrefix(kafka, config.topicPrefix);
    fs.rmSync(rulesDir, { recursive: true, force: true });
  });

  it('keeps the last good rules on a broken file, takes the fixed one, and skips no observation', async () => {
    const reloads = async (result: string) =>
      (await registry.getSingleMetric('autoglm_decide_rule_reloads_total')?.get())?.values.find(
        (v) => v.labels.result === result,
      )?.value ?? 0;
    type Phase = 'first' | 'broken' | 'transition' | 'fixed';
    const sent: Array<{ entity: string; phase: Phase }> = [];
    let phase: Phase = 'first';
    let flowing = true;
    let paused = false;
    // One observation every 50 ms, each on its own entity (no cooldown between them), hot on both metrics.
    const flow = (async () => {
      for (let i = 0; flowing; i++) {
        if (paused) {
          await sleep(20);
          continue;
        }
        const end = Date.now();
        const obs: Observation = {
          entity: `${run}-${i}`,
          seq: 0,
          window: { start: end - 3000, end },
          features: { 'cpu.avg': 95, 'mem.avg': 95 },
          events: [],
          ts: end,
        };
        sent.push({ entity: obs.entity, phase });
        await sendJson(producer, topicNames(config).observations, [{ key: obs.entity, value: obs }]);
        await sleep(50);
      }
    })();
    const ofRun = () => decisions.values<Decision>((d) => d.entity.startsWith(`${run}-`));
    await until('decisions from the first rule', () => ofRun().length >= 5, 30_000);
    const firstHash = ofRun()[0]!.ruleSet;

    // A broken replacement: an operator typo. Refused; the old rule keeps deciding.
    const broken = shadowRule('cpu-rule', 'cpu.avg');
    broken.conditions.all[0]!.operator = 'greaterThen';
    fs.writeFileSync(file, JSON.stringify(broken));
    await until('the broken file to be refused', async () => (await reloads('refused')) >= 1, 15_000);
    phase = 'broken';
    const atBroken = sent.length;
    await until('observations after the refusal to be decided', () => ofRun().length >= atBroken + 5, 30_000);

    // The fixed replacement: a new rule on another metric. Applied; it decides from now on. Until
    // the swap is seen, an observation may meet either rule ('transition').
    paused = true;
    await until('every observation so far to be decided', () => ofRun().length >= sent.length, 30_000);
    phase = 'transition';
    paused = false;
    fs.writeFileSync(file, JSON.stringify(shadowRule('mem-rule', 'mem.avg')));
    await until('the fixed file to be applied', async () => (await reloads('applied')) >= 1, 15_000);
    phase = 'fixed';
    const atFixed = sent.length;
    await until('observations after the fix to be decided', () => ofRun().length >= atFixed + 5, 30_000);
    flowing = false;
    await flow;
    await until('every observation to be decided', () => ofRun().length >= sent.length, 30_000);
    await sleep(500);

    const byEntity = new Map<string, Decision[]>();
    for (const d of ofRun()) byEntity.set(d.entity, [...(byEntity.get(d.entity) ?? []), d]);
    for (const s of sent) {
      const got = byEntity.get(s.entity) ?? [];
      assert.equal(got.length, 1, `observation of ${s.entity} (${s.phase}) has exactly one decision`);
      const d = got[0]!;
      if (s.phase === 'first' || s.phase === 'broken')
        assert.equal(
          d.rule,
          'cpu-rule',
          'the old rule decides until the fixed file, also while the broken one is refused',
        );
      if (s.phase === 'fixed') assert.equal(d.rule, 'mem-rule', 'the fixed rule decides once applied');
      assert.equal(d.ruleSet, d.rule === 'cpu-rule' ? firstHash : ofRun().at(-1)!.ruleSet);
    }
    assert.notEqual(ofRun().at(-1)!.ruleSet, firstHash);
    assert.equal(await reloads('applied'), 1);
  });
});
