/**
 * What the simulator learns from the loop it feeds, so that its schedule never waits on incidents
 * the loop will not act on by design, and does not put an incident where the loop would not act:
 * - decisions and verdicts (Kafka): a shadow decision, one that waits for an operator's approval,
 *   or a remediation absorbed by the entity guard parks the entity's incident (it keeps running,
 *   but no longer holds one of the schedule's `maxActiveIncidents` slots);
 * - the remediations Temporal knows (its visibility list, by the act task queue): an entity with
 *   one in flight is avoided, and so is a scenario whose right action was taken on the entity
 *   within `avoidRecentMs` (the rule's cooldown, or its episode still firing, would hold it back).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { topicNames, type Config } from '../common/config.js';
import { decisionSchema, verdictSchema } from '../common/contracts.js';
import { createKafka, ensureTopics, runConsumer, type RunningConsumer } from '../common/kafka.js';
import type { Logger } from '../common/logger.js';
import { connectClient } from '../common/temporal.js';
import { uniqueName } from '../common/unique-name.js';
import { ACTION_KEY, ENTITY_KEY, REMEDIATE_WORKFLOW, RULE_KEY } from '../../workflows/definitions.js';
import type { AvoidList, FleetModel } from './fleet-model.js';
import type { Parked } from './fleet-types.js';
import { parkedByDecision, parkedByVerdict } from './parked.js';

/** One remediation as Temporal's visibility lists it. */
export interface ListedRemediation {
  readonly entity: string;
  readonly action: string;
  readonly rule: string;
  readonly running: boolean;
  readonly startedAt: number;
}

/** The avoid list from the remediations listed: running ones avoid the entity, recent ones the action. */
export function avoidListOf(remediations: readonly ListedRemediation[]): AvoidList {
  const entities = new Map<string, string>();
  const actions = new Map<string, Map<string, string>>();
  const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
  for (const r of remediations) {
    if (r.running) entities.set(r.entity, `${r.rule} (${r.action}) is in flight`);
    const mine = actions.get(r.entity) ?? new Map<string, string>();
    if (!mine.has(r.action))
      mine.set(r.action, `${r.rule} took ${r.action} at ${hhmm(r.startedAt)} UTC (cooldown or episode)`);
    actions.set(r.entity, mine);
  }
  return { entities, actions };
}

/** Longest the fleet's start waits for Temporal's first list of remediations. */
const FIRST_POLL_WAIT_MS = 10_000;

/** Longest a stop waits for a poll in flight. */
const STOP_WAIT_MS = 2000;

/** Most remediations one poll reads: beyond it the oldest are not seen (a bigger fleet than the demo's). */
const MAX_LISTED = 5000;

/** The remediations of this deployment (its act task queue) running now or started since `sinceMs`. */
export async function listRemediations(
  client: Client,
  actTaskQueue: string,
  sinceMs: number,
): Promise<ListedRemediation[]> {
  const q = (s: string) => `"${s.replace(/["\\]/g, '')}"`;
  const query =
    `WorkflowType = ${q(REMEDIATE_WORKFLOW)} AND TaskQueue = ${q(actTaskQueue)} AND ` +
    `(ExecutionStatus = "Running" OR StartTime > ${q(new Date(sinceMs).toISOString())})`;
  const out: ListedRemediation[] = [];
  for await (const w of client.workflow.list({ query })) {
    const entity = w.typedSearchAttributes.get(ENTITY_KEY);
    const action = w.typedSearchAttributes.get(ACTION_KEY);
    if (entity === undefined || action === undefined) continue;
    out.push({
      entity,
      action,
      rule: w.typedSearchAttributes.get(RULE_KEY) ?? '?',
      running: w.status.name === 'RUNNING',
      startedAt: w.startTime.getTime(),
    });
    if (out.length >= MAX_LISTED) break;
  }
  return out;
}

/** How the feedback runs. */
export interface LoopFeedbackOptions {
  /** How far back a remediation's action keeps a scenario it fixes off the entity; 0: only running ones. */
  readonly avoidRecentMs: number;
  /** How often Temporal is asked. */
  readonly pollMs: number;
}

/** A running feedback: stop it before the model goes. */
export interface LoopFeedback {
  stop(): Promise<void>;
}

/**
 * Follows the loop's decisions and verdicts (a consumer group of its own, from now on) and polls
 * Temporal's list of remediations, telling `model` what to park and what to avoid. Temporal or
 * Kafka being away is logged and waited out: the schedule then goes on as if nobody acted.
 */
export async function followLoop(
  model: Pick<FleetModel, 'park' | 'avoid'>,
  config: Config,
  logger: Logger,
  opts: LoopFeedbackOptions,
): Promise<LoopFeedback> {
  const topics = topicNames(config);
  const kafka = createKafka(config, logger);
  const park = (entity: string, parked: Parked | undefined) => {
    if (!parked) return;
    const incident = model.park(entity, parked);
    if (incident)
      logger.info(
        { incident: incident.id, entity, parked },
        `${incident.id} parked (${parked.kind}, ${parked.rule}): no schedule slot held`,
      );
  };
  let consumer: RunningConsumer | undefined;
  try {
    await ensureTopics(kafka, [topics.decisions, topics.verdicts], config.topicPartitions);
    consumer = await runConsumer({
      kafka,
      groupId: uniqueName(`${config.groupPrefix}-fleet-feedback`),
      topics: [topics.decisions, topics.verdicts],
      fromBeginning: false,
      logger,
      eachMessage: async ({ topic, message }) => {
        let json: unknown;
        try {
          json = JSON.parse(message.value?.toString('utf8') ?? 'null');
        } catch {
          return;
        }
        if (topic === topics.decisions) {
          const d = decisionSchema.safeParse(json);
          if (d.success) park(d.data.entity, parkedByDecision(d.data));
        } else {
          const v = verdictSchema.safeParse(json);
          if (v.success) park(v.data.entity, parkedByVerdict(v.data));
        }
      },
    });
  } catch (err) {
    logger.warn({ err }, 'fleet: cannot follow the decisions and verdicts; no incident will be parked');
  }

  let client: Client | undefined;
  let failing = false;
  let stopped = false;
  const poll = async () => {
    try {
      client ??= await connectClient(config);
      const listed = await listRemediations(client, config.actTaskQueue, Date.now() - opts.avoidRecentMs);
      if (stopped) return;
      model.avoid(avoidListOf(listed));
      if (failing) logger.info('fleet: reading the remediations from Temporal again');
      failing = false;
    } catch (err) {
      if (!failing) logger.warn({ err }, 'fleet: cannot list the remediations in Temporal; retrying');
      failing = true;
    }
  };
  // Awaited a little, so that the first injection knows what to avoid; a Temporal slow to answer
  // does not hold the fleet's start longer than that.
  let running = poll();
  const waited = new AbortController();
  await Promise.race([
    running,
    sleep(FIRST_POLL_WAIT_MS, undefined, { signal: waited.signal }).catch(() => undefined),
  ]);
  waited.abort();
  const timer = setInterval(() => {
    running = running.then(poll);
  }, opts.pollMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      // A poll in flight is not waited for long: its answer is not used any more.
      const gone = new AbortController();
      await Promise.race([
        running,
        sleep(STOP_WAIT_MS, undefined, { signal: gone.signal }).catch(() => undefined),
      ]);
      gone.abort();
      await consumer?.stop();
      await client?.connection.close();
    },
  };
}
