import type { EachMessagePayload, Producer } from 'kafkajs';
import { Counter, type Registry } from 'prom-client';
import { decodeMessage, observationSchema } from '../common/contracts.js';
import type { DeadLetters } from '../common/dead-letters.js';
import { sendJson } from '../common/kafka.js';
import type { Logger } from '../common/logger.js';
import type { Decider } from './decider.js';
import type { RemediationStarter } from './workflow-starter.js';

/**
 * Kafka edge of the decide step: one observation in; every decision out to the audit topic and,
 * when enforced, a workflow start. Resolves only when both are acknowledged, so the offset is
 * committed after the output is durable and a crash replays the observation instead of losing it.
 */
export class DecideHandler {
  private readonly decisions: Counter<'rule' | 'mode' | 'result'>;

  constructor(
    private readonly deps: {
      decider: Decider;
      starter: RemediationStarter;
      producer: Producer;
      decisionsTopic: string;
      deadLetters: DeadLetters;
      maxClockSkewMs: number;
      logger: Logger;
      registry: Registry;
    },
  ) {
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
    await sendJson(
      this.deps.producer,
      this.deps.decisionsTopic,
      decisions.map((d) => ({ key: d.entity, value: d })),
    );
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
      const { workflowId, started } = await this.deps.starter.start(decision);
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
}
