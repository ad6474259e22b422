import type { EachMessagePayload, Producer } from 'kafkajs';
import { Counter, type Registry } from 'prom-client';
import { decodeMessage, observationSchema, type Decision } from '../common/contracts.js';
import type { DeadLetters } from '../common/dead-letters.js';
import { sendJson } from '../common/kafka.js';
import type { Logger } from '../common/logger.js';
import type { Decider } from './decider.js';
import type { RemediationStarter } from './workflow-starter.js';

/** The most recent ids, in arrival order, forgetting the oldest beyond `capacity`. */
class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly capacity: number) {}
  has(id: string): boolean {
    return this.ids.has(id);
  }
  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value as string);
  }
}

/**
 * Kafka edge of the decide step: one observation in; every decision out to the audit topic and,
 * when enforced, a workflow start. Resolves only when both are acknowledged, so the offset is
 * committed after the output is durable and a crash replays the observation instead of losing it.
 * A decision is published once even when its start fails and the observation comes again; failed
 * starts are counted, and a run of them turns readiness false (Temporal unreachable).
 */
export class DecideHandler {
  private readonly decisions: Counter<'rule' | 'mode' | 'result'>;
  private readonly startFailures: Counter;
  private readonly published = new RecentIds(50_000);
  private failedStartsInARow = 0;

  constructor(
    private readonly deps: {
      decider: Decider;
      starter: RemediationStarter;
      producer: Producer;
      decisionsTopic: string;
      deadLetters: DeadLetters;
      maxClockSkewMs: number;
      /** Failed starts in a row after which readiness turns false. */
      maxStartFailures: number;
      logger: Logger;
      registry: Registry;
    },
  ) {
    this.startFailures = new Counter({
      name: 'autoglm_decide_start_failures_total',
      help: 'Workflow starts that failed (Temporal unreachable or too slow); the observation is retried',
      registers: [deps.registry],
    });
    this.decisions = new Counter({
      name: 'autoglm_decide_decisions_total',
      help: 'Decisions by rule, mode and result (started, duplicate, shadow, stale, suppressed)',
      labelNames: ['rule', 'mode', 'result'],
      registers: [deps.registry],
    });
  }

  async handle(payload: EachMessagePayload): Promise<void> {
    const decoded = decodeMessage(
      observationSchema,
      payload.message.value,
      Date.now(),
      this.deps.maxClockSkewMs,
    );
    if (!decoded.ok) return this.deps.deadLetters.send(payload, decoded.refusal);
    const { decisions, suppressed } = await this.deps.decider.decide(decoded.value, Date.now());
    for (const s of suppressed) this.decisions.inc({ rule: s.rule, mode: 'enforce', result: 'suppressed' });
    if (decisions.length === 0) return;
    const unpublished = decisions.filter((d) => !this.published.has(d.decisionId));
    await sendJson(
      this.deps.producer,
      this.deps.decisionsTopic,
      unpublished.map((d) => ({ key: d.entity, value: d })),
    );
    for (const d of unpublished) this.published.add(d.decisionId);
    for (const decision of decisions) {
      if (decision.mode === 'shadow') {
        this.decisions.inc({ rule: decision.rule, mode: decision.mode, result: 'shadow' });
        continue;
      }
      if (decision.stale) {
        // A backlog, an offset reset or a replay: record what would have been done, act on nothing.
        this.decisions.inc({ rule: decision.rule, mode: decision.mode, result: 'stale' });
        this.deps.logger.info(
          { entity: decision.entity, rule: decision.rule, windowEnd: decision.window.end },
          'stale decision published for the audit only',
        );
        continue;
      }
      const { workflowId, started } = await this.start(decision);
      this.decisions.inc({
        rule: decision.rule,
        mode: decision.mode,
        result: started ? 'started' : 'duplicate',
      });
      this.deps.logger.info(
        { entity: decision.entity, rule: decision.rule, action: decision.action, workflowId, started },
        started ? 'remediation started' : 'remediation already exists for this decision',
      );
    }
  }

  /** False after `maxStartFailures` failed starts in a row: `/readyz` says decide cannot act. */
  startsHealthy(): boolean {
    return this.failedStartsInARow < this.deps.maxStartFailures;
  }

  private async start(decision: Decision): Promise<{ workflowId: string; started: boolean }> {
    try {
      const result = await this.deps.starter.start(decision);
      this.failedStartsInARow = 0;
      return result;
    } catch (err) {
      this.startFailures.inc();
      this.failedStartsInARow++;
      this.deps.logger.warn(
        { err, entity: decision.entity, decisionId: decision.decisionId, inARow: this.failedStartsInARow },
        'workflow start failed; the observation will be retried',
      );
      throw err;
    }
  }
}
