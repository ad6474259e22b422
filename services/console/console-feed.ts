import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Kafka } from 'kafkajs';
import type { Config } from '../common/config.js';
import { topicNames } from '../common/config.js';
import type { Decision, Observation, Verdict } from '../common/contracts.js';
import { runConsumer, type RunningConsumer } from '../common/kafka.js';
import type { Logger } from '../common/logger.js';
import { uniqueName } from '../common/unique-name.js';
import type { ActionLogEntry, Incident } from '../fleet/fleet-types.js';
import {
  actionBudgetId,
  entityGuardId,
  guardStatusQuery,
  statusQuery,
  type GuardStatus,
} from '../../workflows/definitions.js';
import type { ConsoleState } from './console-state.js';

/** The fleet simulator's ground truth, when `up` runs it (incidents, the actuator's log). */
export interface FleetSource {
  readonly incidents: () => Incident[];
  readonly actionsSince: (seq: number) => ActionLogEntry[];
}

/** Remediations whose status is asked for per round (the newest unfinished ones). */
const STATUS_PER_ROUND = 50;

/**
 * Feeds the console's state: the loop's observations, decisions and verdicts from Kafka (read from
 * the beginning in a group of its own, keeping only the console's range), the fleet's incidents and
 * action log, and every `pollMs` the status of each remediation in flight and the fleet budget from
 * Temporal (the same queries as `autoglm status`).
 */
export class ConsoleFeed {
  budget: GuardStatus | undefined;
  private consumer?: RunningConsumer;
  private timer?: NodeJS.Timeout;
  private lastAction = 0;
  private polling = false;
  private readonly guards = new Map<string, { at: number; status: GuardStatus | null }>();

  constructor(
    private readonly deps: {
      readonly kafka: Kafka;
      readonly client: Client;
      readonly config: Config;
      readonly logger: Logger;
      readonly state: ConsoleState;
      readonly fleet?: FleetSource;
      readonly pollMs?: number;
    },
  ) {}

  async start(): Promise<this> {
    const topics = topicNames(this.deps.config);
    const { state } = this.deps;
    const oldest = () => Date.now() - state.limits.rangeMs;
    this.consumer = await runConsumer({
      kafka: this.deps.kafka,
      groupId: `${this.deps.config.groupPrefix}-${uniqueName('console')}`,
      topics: [topics.observations, topics.decisions, topics.verdicts],
      fromBeginning: true,
      logger: this.deps.logger,
      eachMessage: async ({ topic, message }) => {
        const value = parse(message.value);
        if (!value || typeof value.entity !== 'string' || typeof value.ts !== 'number' || value.ts < oldest())
          return;
        if (topic === topics.observations) {
          if (value.features && typeof value.features === 'object')
            state.observation(value as unknown as Observation);
        } else if (topic === topics.decisions) {
          if (typeof value.decisionId === 'string' && value.facts)
            state.decision(value as unknown as Decision);
        } else if (typeof value.workflowId === 'string' && value.evidence)
          state.verdict(value as unknown as Verdict);
      },
    });
    this.timer = setInterval(() => void this.poll(), this.deps.pollMs ?? 1000);
    this.timer.unref();
    return this;
  }

  /** The entity's guard (in flight, cooldowns, absorbed), asked at most once a second per entity. */
  async entityGuard(entity: string): Promise<GuardStatus | null> {
    const cached = this.guards.get(entity);
    if (cached && Date.now() - cached.at < 1000) return cached.status;
    const status = (await this.guardStatus(entityGuardId(this.deps.config.topicPrefix, entity))) ?? null;
    this.guards.set(entity, { at: Date.now(), status });
    while (this.guards.size > 100) this.guards.delete(this.guards.keys().next().value as string);
    return status;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    const { state, fleet } = this.deps;
    try {
      if (fleet) {
        for (const i of fleet.incidents()) state.incident(i);
        for (const a of fleet.actionsSince(this.lastAction)) {
          this.lastAction = a.seq;
          state.action(a);
        }
      }
      const open = [...state.remediations.values()].filter((r) => !r.done).slice(-STATUS_PER_ROUND);
      await Promise.all(
        open.map(async (r) => {
          try {
            state.status(
              r.workflowId,
              await this.deps.client.workflow.getHandle(r.workflowId).query(statusQuery),
            );
          } catch (err) {
            // Not started yet (decide starts it after publishing), or ended: the verdict will say.
            if (!(err instanceof WorkflowNotFoundError))
              this.deps.logger.debug({ err }, 'console: status query failed');
          }
        }),
      );
      this.budget = await this.guardStatus(actionBudgetId(this.deps.config.topicPrefix));
    } catch (err) {
      this.deps.logger.warn({ err }, 'console: polling Temporal failed');
    } finally {
      this.polling = false;
    }
  }

  private async guardStatus(workflowId: string): Promise<GuardStatus | undefined> {
    try {
      const handle = this.deps.client.workflow.getHandle(workflowId);
      if ((await handle.describe()).status.name !== 'RUNNING') return undefined;
      return await handle.query(guardStatusQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.consumer?.stop();
  }
}

function parse(value: Buffer | null): Record<string, unknown> | undefined {
  if (!value) return undefined;
  try {
    const v: unknown = JSON.parse(value.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
