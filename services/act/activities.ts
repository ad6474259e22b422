import { ApplicationFailure } from '@temporalio/activity';
import type { Producer } from 'kafkajs';
import { Counter, type Registry } from 'prom-client';
import type { ActuatorRef, Verdict } from '../common/contracts.js';
import { sendJson } from '../common/kafka.js';
import type { Logger } from '../common/logger.js';
import {
  ActuationRefusedError,
  type ActuationRequest,
  type ActuationResult,
  type Actuator,
} from './actuators/actuator.js';

export type { ActuationRequest, ActuationResult };

/** The act worker's activities, built with their dependencies injected. */
export function createActActivities(deps: {
  actuators: Readonly<Record<ActuatorRef['type'], Actuator>>;
  producer: Producer;
  verdictsTopic: string;
  logger: Logger;
  registry: Registry;
}) {
  const actuations = new Counter({
    name: 'autoglm_act_actuations_total',
    help: 'Actuator calls by actuator, action and result (ok, refused, error); retries count again',
    labelNames: ['actuator', 'action', 'result'],
    registers: [deps.registry],
  });
  const verdicts = new Counter({
    name: 'autoglm_act_verdicts_total',
    help: 'Verdicts published, by outcome',
    labelNames: ['outcome'],
    registers: [deps.registry],
  });
  return {
    /** Performs the action through the rule's actuator. Refusals are not retried. */
    async actuate(request: ActuationRequest): Promise<ActuationResult> {
      const actuator = deps.actuators[request.actuator.type];
      const labels = { actuator: request.actuator.type, action: request.action };
      try {
        const result = await actuator.actuate(request);
        actuations.inc({ ...labels, result: 'ok' });
        deps.logger.info(
          { entity: request.entity, action: request.action, decisionId: request.decisionId },
          'actuated',
        );
        return result;
      } catch (err) {
        actuations.inc({ ...labels, result: err instanceof ActuationRefusedError ? 'refused' : 'error' });
        if (err instanceof ActuationRefusedError) {
          throw ApplicationFailure.nonRetryable(err.message, 'ActuationRefused', err.detail);
        }
        throw err;
      }
    },

    /** Publishes the verdict to Kafka, keyed by entity; resolves once acknowledged. */
    async publishVerdict(verdict: Verdict): Promise<void> {
      await sendJson(deps.producer, deps.verdictsTopic, [{ key: verdict.entity, value: verdict }]);
      verdicts.inc({ outcome: verdict.outcome });
      deps.logger.info(
        { entity: verdict.entity, outcome: verdict.outcome, workflowId: verdict.workflowId },
        'verdict',
      );
    },
  };
}

/** Activity signatures, for the workflow's `proxyActivities` (type-only import). */
export type ActActivities = ReturnType<typeof createActActivities>;
