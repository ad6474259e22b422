import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { Kafka, Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import { startAct } from '../../services/act/main.js';
import { topicNames, type Config } from '../../services/common/config.js';
import type { Decision, Observation, Verdict } from '../../services/common/contracts.js';
import { connectProducer, createKafka, ensureTopics } from '../../services/common/kafka.js';
import { createLogger, type Logger } from '../../services/common/logger.js';
import type { Service } from '../../services/common/service.js';
import { connectClient } from '../../services/common/temporal.js';
import { decisionIdFor } from '../../services/decide/decision-id.js';
import { fastCpuRule, writeRuleDir } from './fast-loop.js';
import { startActionTarget, type ActionTarget, type ReceivedAction } from './target.js';
import { startVerify } from '../../services/verify/main.js';
import { testConfig, unique } from './config.js';
import { deleteTopicsWithPrefix, TopicTap } from './kafka.js';
import { terminateTestRuns } from './temporal.js';

/** The rule the safety tests' decisions come from (verified within 2s). */
export const SAFETY_RULE = fastCpuRule('safety-cpu-scale-out', '2s');
const HMAC_KEY = 'safety-test-hmac-key-0123456789abcdef';

/** Observations of one entity at cpu 95, as sense would publish them, with windows ending at `ends`. */
export function hotObservations(entity: string, ends: readonly number[]): Observation[] {
  return ends.map((end, seq) => ({
    entity,
    seq,
    window: { start: end - 3000, end },
    features: { 'cpu.avg': 95, 'cpu.count': 6 },
    events: [],
    ts: end,
  }));
}

/**
 * What the safety tests share: topics, groups and queues of their own, a local target that checks
 * the HMAC signature and records every request (it can hold answers per entity), a verify worker,
 * taps on the decisions and verdicts topics, and a clean-up that removes all of it.
 */
export class SafetyHarness {
  readonly logger: Logger = createLogger('warn');
  private readonly entities = new Set<string>();
  private readonly services: Service[] = [];

  private constructor(
    /** Per entity: how long the target holds an action before it answers (ms), or what it does first. */
    readonly holdFor: Map<string, number | ((action: ReceivedAction) => Promise<void>)>,
    readonly target: ActionTarget,
    readonly config: Config,
    readonly kafka: Kafka,
    readonly producer: Producer,
    readonly client: Client,
    readonly decisions: TopicTap,
    readonly verdicts: TopicTap,
    private readonly tmpDirs: string[],
  ) {}

  static async start(
    overrides: Parameters<typeof testConfig>[0] = {},
    /** `verify: false`: no verify worker in this process (the test runs its own). */
    opts: { verify?: boolean } = {},
  ): Promise<SafetyHarness> {
    const rulesDir = writeRuleDir([SAFETY_RULE]);
    const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-key-'));
    const keyFile = path.join(keyDir, 'hmac.key');
    fs.writeFileSync(keyFile, HMAC_KEY);
    const holdFor = new Map<string, number | ((action: ReceivedAction) => Promise<void>)>();
    const target = await startActionTarget({
      hmacKey: Buffer.from(HMAC_KEY),
      hold: async (a) => {
        const hold = holdFor.get(String(a.body.entity)) ?? 0;
        await (typeof hold === 'number' ? sleep(hold) : hold(a));
      },
    });
    const config = testConfig({
      rulesDir,
      httpActuatorUrl: target.url,
      actuatorHmacKeyFile: keyFile,
      ...overrides,
    });
    const logger = createLogger('warn');
    const kafka = createKafka(config, logger);
    const topics = topicNames(config);
    await ensureTopics(kafka, Object.values(topics), config.topicPartitions);
    const verify =
      opts.verify === false ? undefined : await startVerify({ config, logger, registry: new Registry() });
    const h = new SafetyHarness(
      holdFor,
      target,
      config,
      kafka,
      await connectProducer(kafka),
      await connectClient(config),
      await new TopicTap(kafka, topics.decisions, logger).start(),
      await new TopicTap(kafka, topics.verdicts, logger).start(),
      [rulesDir, keyDir],
    );
    if (verify) h.services.push(verify);
    return h;
  }

  get topics() {
    return topicNames(this.config);
  }

  /** A fresh entity name, remembered so its workflows are terminated at the end. */
  entity(name: string): string {
    const e = unique(name);
    this.entities.add(e);
    return e;
  }

  /** A verify service of the harness's config, in this process, stopped at the end if still running. */
  async startVerify(registry = new Registry()): Promise<Service> {
    const verify = await startVerify({ config: this.config, logger: this.logger, registry });
    let stopped = false;
    const service: Service = {
      ...verify,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await verify.stop();
      },
    };
    this.services.push(service);
    return service;
  }

  /** An act service of the harness's config (with `change` applied), stopped at the end if still running. */
  async startAct(change: Partial<Config> = {}): Promise<Service> {
    const act = await startAct({
      config: { ...this.config, ...change },
      logger: this.logger,
      registry: new Registry(),
    });
    let stopped = false;
    const service: Service = {
      ...act,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await act.stop();
      },
    };
    this.services.push(service);
    return service;
  }

  verdictsFor(e: string): Verdict[] {
    return this.verdicts.values<Verdict>((v) => v.entity === e);
  }

  callsFor(e: string) {
    return this.target.received.filter((a) => a.body.entity === e);
  }

  /** A decision for `e` as decide would make it from a window ending at `end`. */
  decision(e: string, end: number, over: Partial<Decision> = {}): Decision {
    const window = { start: end - 3000, end };
    return {
      decisionId: decisionIdFor(e, SAFETY_RULE.name, window),
      entity: e,
      rule: SAFETY_RULE.name,
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

  async stop(): Promise<void> {
    await this.decisions.stop();
    await this.verdicts.stop();
    for (const s of this.services.reverse()) await s.stop();
    await terminateTestRuns(this.client, this.config.topicPrefix, this.entities);
    await deleteTopicsWithPrefix(this.kafka, this.config.topicPrefix);
    await this.producer.disconnect();
    await this.client.connection.close();
    await this.target.close();
    for (const dir of this.tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
  }
}
