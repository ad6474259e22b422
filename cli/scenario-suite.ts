import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError } from '@temporalio/client';
import { Registry } from 'prom-client';
import { repoRoot } from '../infra/paths.js';
import { loadConfig, topicNames, type Config } from '../services/common/config.js';
import type { Decision, Verdict } from '../services/common/contracts.js';
import { createKafka, ensureTopics } from '../services/common/kafka.js';
import { connectClient } from '../services/common/temporal.js';
import type { Logger } from '../services/common/logger.js';
import type { Service } from '../services/common/service.js';
import { TopicTap } from '../services/common/topic-tap.js';
import { loadFleetConfig } from '../services/fleet/fleet-config.js';
import { workflowIdFor } from '../services/decide/decision-id.js';
import type { ActionLogEntry, FleetScenarioClass, Incident } from '../services/fleet/fleet-types.js';
import { startFleet, type RunningFleet } from '../services/fleet/main.js';
import { scoreRun, type Scorecard } from '../services/fleet/scorecard.js';
import { startLoop, type LoopStep } from '../services/loop.js';
import { actionBudgetId, entityGuardId } from '../workflows/definitions.js';

/**
 * The scenario suite: every scenario class injected into the simulated fleet, against the real
 * loop (sense, decide, act, verify in this process, with Kafka and Temporal), scored against the
 * fleet's ground truth. Used by `autoglm scenarios` and by the end-to-end test.
 */

/** Where each class is injected: entities whose catalog entry lets the starter rule act alone. */
export const SUITE_ENTITIES: Readonly<Record<FleetScenarioClass, string>> = {
  cpu_saturation: 'checkout/pod-1',
  memory_leak: 'payments/pod-1',
  // search is tier 2: the rollback needs no approval (tier 1 would wait for an operator).
  bad_deploy: 'search/pod-1',
  disk_pressure: 'batch/pod-1',
  dependency_outage: 'checkout/pod-2',
  noisy_healthy: 'search/pod-2',
};

/**
 * The overrides of a run of the loop named `id`: its own topic prefix, group prefix and task queues,
 * a random ops port, warnings only; on `endpoints` when given (else the environment's).
 */
export function runOverrides(
  id: string,
  endpoints?: { readonly kafkaBrokers: string; readonly temporalAddress: string },
): NonNullable<Parameters<typeof loadConfig>[1]> {
  return {
    ...(endpoints
      ? { kafkaBrokers: endpoints.kafkaBrokers, temporalAddress: endpoints.temporalAddress }
      : {}),
    topicPrefix: `${id}.autoglm`,
    groupPrefix: id,
    actTaskQueue: `${id}-act`,
    verifyTaskQueue: `${id}-verify`,
    opsPort: '0',
    logLevel: 'warn',
  };
}

export interface SuiteOptions {
  /** Settings of the run (topics and groups of its own); the suite sets rules, actuator and windows. */
  readonly overrides: Parameters<typeof loadConfig>[1];
  readonly logger: Logger;
  /** Rules only: decide runs without the classifier. */
  readonly rulesOnly?: boolean;
  readonly classes?: readonly FleetScenarioClass[];
  /** What is injected, in order (instead of `classes` on their SUITE_ENTITIES): a bigger run. */
  readonly injections?: ReadonlyArray<{ readonly class: FleetScenarioClass; readonly entity: string }>;
  /** The pause between two injections (0, the default: all at once). */
  readonly injectEveryMs?: number;
  /** The simulated fleet's size (5 services of 2 pods: the SUITE_ENTITIES and a healthy rest). */
  readonly fleet?: { readonly services: number; readonly pods: number };
  /** Fleet settings beside those (AUTOGLM_FLEET_* keys of loadFleetConfig), e.g. another metric set. */
  readonly fleetSettings?: Parameters<typeof loadFleetConfig>[1];
  /** Also wait until every remediation started has its verdict on the verdicts topic. */
  readonly awaitVerdicts?: boolean;
  /** How long the fleet runs before the first injection: baselines warm up (30 samples). */
  readonly warmupMs?: number;
  /** The run ends when every incident is settled, or at this deadline after the injections. */
  readonly timeoutMs?: number;
  /**
   * The run also ends when no incident advanced (an action reached the fleet, a verdict was
   * published, an incident was accounted for) for this long after the injections: a stalled run
   * fails soon, a slow one that keeps advancing gets up to `timeoutMs`.
   */
  readonly stallMs?: number;
  /** Called with progress lines. */
  readonly progress?: (line: string) => void;
  /** Steps that run elsewhere (their own processes, which `during` starts): the loop here runs the others. */
  readonly external?: LoopStep | readonly LoopStep[];
  /**
   * Called once the loop here runs, before the warm-up: starts the external steps, and may kill and
   * restart them in the middle of the run (the incidents are injected `warmupMs` later). Its
   * `signal` is aborted when the run has settled; it is awaited at the end.
   */
  readonly during?: (run: SuiteRun) => Promise<void>;
}

/** What `during` is given: the run's settings, the loop and fleet here, and taps on its topics. */
export interface SuiteRun {
  readonly config: Config;
  readonly loop: Service;
  readonly fleet: RunningFleet;
  readonly decisions: TopicTap;
  readonly verdicts: TopicTap;
  /** Aborted once every incident is settled (or at the deadline). */
  readonly signal: AbortSignal;
}

export interface SuiteResult {
  readonly scorecard: Scorecard;
  readonly incidents: Incident[];
  readonly decisions: Decision[];
  readonly verdicts: Verdict[];
  /** The fleet's action log (ground truth): every action received, duplicates included. */
  readonly actions: ActionLogEntry[];
  readonly config: Config;
}

/**
 * The starter pack as the suite runs it: the same rules and context, verification shortened
 * (`stableFor` 10s) and each `for` to 5s so a run takes minutes, and the circuit breaker rule enforced instead of
 * shadowed so its scenario is acted on too.
 */
export function suiteRulesDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-suite-rules-'));
  const source = path.join(repoRoot, 'rules');
  for (const f of fs.readdirSync(source)) {
    if (!f.endsWith('.json') || f.endsWith('.test.json') || f === 'rule.schema.json') continue;
    const rule = JSON.parse(fs.readFileSync(path.join(source, f), 'utf8'));
    rule.event.params.verify.stableFor = '10s';
    // Episodes kept, their `for` shortened like the verification, so a run still takes minutes.
    if (rule.event.params.for) rule.event.params.for = '5s';
    if (rule.event.params.mode === 'shadow') rule.event.params.mode = 'enforce';
    fs.writeFileSync(path.join(dir, f), JSON.stringify(rule, null, 2));
  }
  // The catalog, without the maintenance windows: the suite judges every injected incident acted
  // on, and the starter windows hold entities by the wall clock (search's weekend index rebuild,
  // Saturday and Sunday 23:30 Berlin for 3h), so on those nights its bad deploys were "lost".
  fs.cpSync(path.join(source, 'context'), path.join(dir, 'context'), {
    recursive: true,
    filter: (from) => path.basename(from) !== 'maintenance.json',
  });
  return dir;
}

/** Runs the suite once; cleans up what it started (not the topics: the caller owns their prefix). */
export async function runScenarioSuite(opts: SuiteOptions): Promise<SuiteResult> {
  const say = opts.progress ?? (() => {});
  const classes = opts.classes ?? (Object.keys(SUITE_ENTITIES) as FleetScenarioClass[]);
  const injections = opts.injections ?? classes.map((cls) => ({ class: cls, entity: SUITE_ENTITIES[cls] }));
  const external = new Set<LoopStep>(
    opts.external === undefined ? [] : typeof opts.external === 'string' ? [opts.external] : opts.external,
  );
  const rulesDir = suiteRulesDir();
  const keyFile = path.join(rulesDir, 'hmac.key');
  fs.writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const base = {
    ...opts.overrides,
    rulesDir,
    actuatorHmacKeyFile: keyFile,
    // The window the classifier was trained on; an observation every second.
    window: '30s',
    emitEvery: '1s',
    ...(opts.rulesOnly ? { modelDir: 'off' } : {}),
  };
  const fleetConfig = loadConfig(process.env, base);
  const registry = new Registry();
  const ctx = { logger: opts.logger, registry };
  const fleet = await startFleet(
    { ...ctx, config: fleetConfig },
    loadFleetConfig(
      {},
      {
        services: String(opts.fleet?.services ?? 5),
        pods: String(opts.fleet?.pods ?? 2),
        tick: '1s',
        scenarios: 'none',
        scenarioEvery: 'off',
        recovery: '5s',
        port: '0',
        ...opts.fleetSettings,
      },
    ),
  );
  const config = loadConfig(process.env, { ...base, httpActuatorUrl: `${fleet.controlOrigin}/actuate` });
  const kafka = createKafka(config, opts.logger);
  const topics = topicNames(config);
  let decisions: TopicTap | undefined;
  let verdicts: TopicTap | undefined;
  let loop: Service | undefined;
  const settled = new AbortController();
  try {
    await ensureTopics(kafka, Object.values(topics), config.topicPartitions);
    decisions = await new TopicTap(kafka, topics.decisions, opts.logger).start();
    verdicts = await new TopicTap(kafka, topics.verdicts, opts.logger).start();
    loop = await startLoop(
      { ...ctx, config },
      (['sense', 'decide', 'act', 'verify'] as const).filter((s) => !external.has(s)),
    );
    // Settled now, so a failure of the hook is not an unhandled rejection; thrown at the end.
    const during = opts.during?.({ config, loop, fleet, decisions, verdicts, signal: settled.signal }).then(
      () => undefined,
      (err: unknown) => err,
    );
    say(
      `fleet of ${fleet.model.entityIds.length} entities ticking; baselines warm up for ${(opts.warmupMs ?? 35_000) / 1000}s`,
    );
    await sleep(opts.warmupMs ?? 35_000);
    for (const [i, { class: cls, entity }] of injections.entries()) {
      if (i > 0 && opts.injectEveryMs) await sleep(opts.injectEveryMs);
      const injected = fleet.model.inject({ class: cls, entity }, Date.now());
      if (!injected.ok) throw new Error(`cannot inject ${cls} on ${entity}: ${injected.message}`);
      say(`injected ${cls} on ${injected.incident.entity} (${injected.incident.id})`);
    }
    const deadline = Date.now() + (opts.timeoutMs ?? 5 * 60_000);
    let advanced = { at: Date.now(), mark: '' };
    for (;;) {
      const card = scoreRun(fleet.model.incidents(), fleet.model.actionLog, verdicts.values<Verdict>());
      const open = card.total.incidents - card.total.accounted - countNoisy(fleet.model.incidents());
      const unheard = opts.awaitVerdicts
        ? missingVerdicts(decisions.values<Decision>(), verdicts.values<Verdict>()).length
        : 0;
      if ((open <= 0 && unheard === 0) || Date.now() > deadline) break;
      const mark = `${fleet.model.actionLog.length}/${verdicts.values().length}/${card.total.accounted}`;
      if (mark !== advanced.mark) advanced = { at: Date.now(), mark };
      else if (opts.stallMs !== undefined && Date.now() - advanced.at > opts.stallMs) {
        say(
          `stalled: no incident advanced for ${Math.round(opts.stallMs / 1000)}s (${open} open, ${unheard} verdicts unheard)`,
        );
        break;
      }
      await sleep(1000);
    }
    settled.abort();
    const failed = await during;
    if (failed) throw failed;
    const incidents = fleet.model.incidents();
    return {
      scorecard: scoreRun(incidents, fleet.model.actionLog, verdicts.values<Verdict>()),
      incidents,
      decisions: decisions.values<Decision>(),
      verdicts: verdicts.values<Verdict>(),
      actions: [...fleet.model.actionLog],
      config,
    };
  } finally {
    settled.abort();
    await loop?.stop().catch(() => undefined);
    await terminateRun(config, decisions?.values<Decision>() ?? [], fleet.model.entityIds).catch(
      (err: unknown) => opts.logger.warn({ err }, "cannot terminate the run's workflows"),
    );
    await fleet.stop().catch(() => undefined);
    await decisions?.stop();
    await verdicts?.stop();
    fs.rmSync(rulesDir, { recursive: true, force: true });
  }
}

/**
 * The remediations started (enforced decisions that were not stale) whose verdict is not on the
 * verdicts topic: each should have exactly one, whatever its outcome.
 */
export function missingVerdicts(decisions: readonly Decision[], verdicts: readonly Verdict[]): string[] {
  const heard = new Set(verdicts.map((v) => v.workflowId));
  const started = new Set(decisions.filter((d) => d.mode === 'enforce' && !d.stale).map(workflowIdFor));
  return [...started].filter((id) => !heard.has(id));
}

/**
 * Terminates what the run left in the shared Temporal: remediations still going and the guards
 * (entity guards with their cooldowns, the action budget) of its scope. Closed ones are skipped.
 */
async function terminateRun(config: Config, decisions: readonly Decision[], entities: readonly string[]) {
  const client = await connectClient(config);
  try {
    const scope = config.topicPrefix;
    const ids = new Set([
      ...decisions.map(workflowIdFor),
      ...entities.map((e) => entityGuardId(scope, e)),
      actionBudgetId(scope),
    ]);
    // 16 at a time: a run of 100 incidents leaves ~300 ids, one by one took minutes on a busy server.
    const all = [...ids];
    for (let i = 0; i < all.length; i += 16)
      await Promise.all(
        all.slice(i, i + 16).map((id) =>
          client.workflow
            .getHandle(id)
            .terminate('the scenario run is over')
            .catch((err: unknown) => {
              if (err instanceof WorkflowNotFoundError || /already completed/i.test(String(err))) return;
              throw err;
            }),
        ),
      );
  } finally {
    await client.connection.close();
  }
}

function countNoisy(incidents: readonly Incident[]): number {
  return incidents.filter((i) => i.class === 'noisy_healthy').length;
}
