/**
 * The safety guarantees on the real services (real Kafka, Temporal, rules engine; only the HTTP
 * target is ours): one actuation per entity under a burst and across restarts, the fleet-wide
 * concurrency limit across two act workers, refusals that never reach the target, and stale
 * input that acts on nothing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { Kafka, Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import { startAct } from '../../services/act/main.js';
import { topicNames, type Config } from '../../services/common/config.js';
import type { Decision, Observation, Verdict } from '../../services/common/contracts.js';
import { connectProducer, createKafka } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import type { Service } from '../../services/common/service.js';
import { connectClient } from '../../services/common/temporal.js';
import { startDecide } from '../../services/decide/main.js';
import { decisionIdFor } from '../../services/decide/decision-id.js';
import { RemediationStarter } from '../../services/decide/workflow-starter.js';
import { fastCpuRule, writeRuleDir } from '../../services/fleet-sim/fast-loop.js';
import { startActionTarget, type ActionTarget } from '../../services/fleet-sim/target.js';
import { startVerify } from '../../services/verify/main.js';
import { testConfig, unique } from '../support/config.js';
import { deleteTopicsWithPrefix, produce, TopicTap } from '../support/kafka.js';
import { terminateTestRuns } from '../support/temporal.js';

const RULE = fastCpuRule('safety-cpu-scale-out', '2s');
const HMAC_KEY = 'safety-test-hmac-key-0123456789abcdef';

/** Observations of one entity, as sense would publish them, with windows ending at `ends`. */
function observations(entity: string, ends: readonly number[]): Observation[] {
  return ends.map((end, seq) => ({
    entity,
    seq,
    window: { start: end - 3000, end },
    features: { 'cpu.avg': 95, 'cpu.count': 6 },
    events: [],
    ts: end,
  }));
}

describe('safe actuation on the real services', () => {
  const logger = createLogger('warn');
  const rulesDir = writeRuleDir([RULE]);
  const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-key-'));
  const keyFile = path.join(keyDir, 'hmac.key');
  fs.writeFileSync(keyFile, HMAC_KEY);
  /** Per entity: how long the target holds an action before it answers. */
  const holdFor = new Map<string, number>();
  let target: ActionTarget;
  let config: Config;
  let topics: ReturnType<typeof topicNames>;
  let kafka: Kafka;
  let producer: Producer;
  let client: Client;
  let decisionsTap: TopicTap;
  let verdictsTap: TopicTap;
  const services: Service[] = [];
  const entities = new Set<string>();
  const entity = (name: string) => {
    const e = unique(name);
    entities.add(e);
    return e;
  };

  before(async () => {
    target = await startActionTarget({
      hmacKey: Buffer.from(HMAC_KEY),
      hold: (a) => sleep(holdFor.get(String(a.body.entity)) ?? 0),
    });
    config = testConfig({
      rulesDir,
      httpActuatorUrl: target.url,
      actuatorHmacKeyFile: keyFile,
      maxConcurrentPerAction: '2',
    });
    topics = topicNames(config);
    const registry = new Registry();
    services.push(await startVerify({ config, logger, registry }));
    kafka = createKafka(config, logger);
    producer = await connectProducer(kafka);
    client = await connectClient(config);
    decisionsTap = await new TopicTap(kafka, topics.decisions, logger).start();
    verdictsTap = await new TopicTap(kafka, topics.verdicts, logger).start();
  });

  after(async () => {
    await decisionsTap?.stop();
    await verdictsTap?.stop();
    for (const s of services.reverse()) await s.stop();
    if (client) await terminateTestRuns(client, config.topicPrefix, entities);
    if (kafka) await deleteTopicsWithPrefix(kafka, config.topicPrefix);
    await producer?.disconnect();
    await client?.connection.close();
    await target?.close();
    fs.rmSync(rulesDir, { recursive: true, force: true });
    fs.rmSync(keyDir, { recursive: true, force: true });
  });

  const verdictsFor = (e: string) => verdictsTap.values<Verdict>((v) => v.entity === e);
  const callsFor = (e: string) => target.received.filter((a) => a.body.entity === e);
  const newRegistry = () => new Registry();

  /** A decision for `entity` as decide would make it from a fresh window ending at `end`. */
  function decision(e: string, end: number, over: Partial<Decision> = {}): Decision {
    const window = { start: end - 3000, end };
    return {
      decisionId: decisionIdFor(e, RULE.name, window),
      entity: e,
      rule: RULE.name,
      ruleVersion: 'test',
      mode: 'enforce',
      action: 'scale_out',
      args: { entity: e, by: 1 },
      actuator: { type: 'http' },
      cooldown: '10m',
      approval: 'none',
      verify: {
        conditions: { all: [{ fact: 'cpu.avg', operator: 'lessThan', value: 70 }] },
        within: '2s',
        stableFor: '0s',
      },
      incident: null,
      facts: {},
      window,
      stale: false,
      ts: end,
      ...over,
    };
  }

  it('acts once on a burst of 200 decisions for one entity; the other 199 are absorbed', async () => {
    const act = await startAct({ config, logger, registry: newRegistry() });
    try {
      const e = entity('burst');
      const starter = new RemediationStarter(client, config);
      const now = Date.now();
      const burst = Array.from({ length: 200 }, (_, i) => decision(e, now - i));
      const started = await Promise.all(burst.map((d) => starter.start(d)));
      assert.equal(started.filter((s) => s.started).length, 200, 'every decision started its workflow');
      await verdictsTap.waitFor<Verdict>(() => verdictsFor(e).length >= 200, 120_000);
      const outcomes = verdictsFor(e).map((v) => v.outcome);
      assert.equal(
        outcomes.filter((o) => o === 'absorbed').length,
        199,
        JSON.stringify(outcomes.slice(0, 5)),
      );
      assert.equal(callsFor(e).length, 1, 'exactly one actuation reached the target');
      assert.equal(callsFor(e)[0]?.signed, true, 'and its HMAC signature checked out');
    } finally {
      await act.stop();
    }
  });

  it('still acts once when decide and act restart in the middle of a remediation', async () => {
    const e = entity('restart');
    holdFor.set(e, 3000); // the first action stays in flight across the restart
    let act = await startAct({ config, logger, registry: newRegistry() });
    let decide = await startDecide({ config, logger, registry: newRegistry() });
    const t0 = Date.now();
    const ends = [t0 - 200, t0 - 100];
    try {
      await produce(
        producer,
        topics.observations,
        observations(e, ends.slice(0, 1)).map((o) => ({ key: e, value: o })),
      );
      const deadline = Date.now() + 30_000;
      while (callsFor(e).length === 0 && Date.now() < deadline) await sleep(50);
      assert.equal(callsFor(e).length, 1, 'the first remediation is acting');

      await decide.stop();
      await act.stop(); // waits for the in-flight action to finish
      act = await startAct({ config, logger, registry: newRegistry() });
      decide = await startDecide({ config, logger, registry: newRegistry() });
      // A new window of the same incident: the restarted decide has no memory of the first.
      await produce(producer, topics.observations, [{ key: e, value: observations(e, ends)[1]! }]);
      const second = await decisionsTap.waitFor<Decision>(
        (d) => d.entity === e && d.window.end === ends[1],
        30_000,
      );
      const verdict = await verdictsTap.waitFor<Verdict>((v) => v.decisionId === second.decisionId, 30_000);
      assert.equal(verdict.outcome, 'absorbed');
      assert.match(String(verdict.evidence.reason), /is in flight|is cooling down/);
      await verdictsTap.waitFor<Verdict>((v) => v.entity === e && v.outcome !== 'absorbed', 30_000);
      assert.equal(callsFor(e).length, 1, 'one actuation in all');
    } finally {
      await decide.stop();
      await act.stop();
    }
  });

  it('keeps at most 2 actions at the target with two act workers and five entities on fire', async () => {
    const acts = [
      await startAct({ config, logger, registry: newRegistry() }),
      await startAct({ config, logger, registry: newRegistry() }),
    ];
    try {
      const fleet = [1, 2, 3, 4, 5].map((i) => entity(`fleet${i}`));
      for (const e of fleet) holdFor.set(e, 1500);
      const starter = new RemediationStarter(client, config);
      const now = Date.now();
      const peakBefore = target.maxInFlight;
      await Promise.all(fleet.map((e) => starter.start(decision(e, now))));
      for (const e of fleet) await verdictsTap.waitFor<Verdict>((v) => v.entity === e, 90_000);
      for (const e of fleet) assert.equal(callsFor(e).length, 1, `one action for ${e}`);
      assert.ok(peakBefore <= 2);
      assert.equal(target.maxInFlight, 2, 'never more than 2 actions at the target at once');
      const deferred = fleet.map((e) => verdictsFor(e)[0]!).filter((v) => v.evidence.deferred);
      assert.ok(deferred.length >= 1, 'the ones that waited say why in their verdict');
      assert.match(JSON.stringify(deferred[0]!.evidence.deferred), /scale_out actions in flight/);
    } finally {
      for (const a of acts) await a.stop();
    }
  });

  it('refuses a URL outside the allowlist, a data: URL and a redirect, with no call made', async () => {
    const act = await startAct({ config, logger, registry: newRegistry() });
    const redirected = await startActionTarget();
    const http = await import('node:http');
    const redirector = http.createServer((_req, res) => {
      res.writeHead(307, { location: redirected.url });
      res.end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    const redirectorUrl = `http://127.0.0.1:${(redirector.address() as { port: number }).port}/actuate`;
    try {
      // A decision written by hand (not through decide's load check): the act worker refuses it too.
      const starter = new RemediationStarter(client, config);
      const cases = {
        metadata: 'http://169.254.169.254/latest/meta-data/',
        data: 'data:text/plain,ok',
        creds: `http://user:hunter2@127.0.0.1:${new URL(target.url).port}/actuate`,
      };
      const now = Date.now();
      for (const [name, url] of Object.entries(cases)) {
        const e = entity(`refuse-${name}`);
        await starter.start(decision(e, now, { actuator: { type: 'http', url } }));
        const v = await verdictsTap.waitFor<Verdict>((x) => x.entity === e, 30_000);
        assert.equal(v.outcome, 'failed');
        assert.match(String(v.evidence.error), /refused URL/);
        assert.doesNotMatch(JSON.stringify(v), /hunter2/);
        assert.equal(callsFor(e).length, 0);
      }
      // An allowlisted origin that redirects elsewhere: the redirect is refused, not followed.
      await act.stop();
      const act2 = await startAct({
        config: {
          ...config,
          httpAllowedOrigins: [new URL(target.url).origin, new URL(redirectorUrl).origin],
        },
        logger,
        registry: newRegistry(),
      });
      try {
        const e = entity('refuse-redirect');
        await starter.start(decision(e, now, { actuator: { type: 'http', url: redirectorUrl } }));
        const v = await verdictsTap.waitFor<Verdict>((x) => x.entity === e, 30_000);
        assert.equal(v.outcome, 'failed');
        assert.match(String(v.evidence.error), /redirect to .* refused/);
        assert.equal(redirected.received.length, 0, 'the redirect target was never called');
      } finally {
        await act2.stop();
      }
    } finally {
      await act.stop().catch(() => undefined);
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
    const act = await startAct({ config: { ...config, commandDir: dir }, logger, registry: newRegistry() });
    try {
      const e = entity('refuse-cmd');
      await new RemediationStarter(client, config).start(
        decision(e, Date.now(), { actuator: { type: 'command', command: 'scale.sh', args: [] } }),
      );
      const v = await verdictsTap.waitFor<Verdict>((x) => x.entity === e, 30_000);
      assert.equal(v.outcome, 'failed');
      assert.match(String(v.evidence.error), /outside|escape/i);
      assert.equal(fs.existsSync(marker), false, 'the script never ran');
    } finally {
      await act.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('replaying a day of old observations starts nothing and publishes every decision as stale', async () => {
    const decide = await startDecide({ config, logger, registry: newRegistry() });
    try {
      const e = entity('replay');
      const now = Date.now();
      // One window every 5 minutes over the 24 hours that ended 10 minutes ago.
      const ends = Array.from({ length: 288 }, (_, i) => now - 10 * 60_000 - (287 - i) * 5 * 60_000);
      await produce(
        producer,
        topics.observations,
        observations(e, ends).map((o) => ({ key: e, value: o })),
      );
      // The cooldown (10m) lets one decision through every other window: 144 decisions.
      await decisionsTap.waitFor<Decision>(
        () => decisionsTap.values<Decision>((d) => d.entity === e).length >= 144,
        60_000,
      );
      const decisions = decisionsTap.values<Decision>((d) => d.entity === e);
      assert.equal(decisions.length, 144);
      assert.ok(decisions.every((d) => d.stale && d.mode === 'enforce'));
      await sleep(500);
      const runs = [];
      for await (const run of client.workflow.list({ query: `AutoglmEntity = "${e}"` }))
        runs.push(run.workflowId);
      assert.deepEqual(runs, [], 'no remediation started');
      assert.equal(callsFor(e).length, 0);
    } finally {
      await decide.stop();
    }
  });
});
