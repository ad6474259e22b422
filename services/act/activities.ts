import { ApplicationFailure } from '@temporalio/activity';
import type { Producer } from 'kafkajs';
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
}) {
  return {
    /** Performs the action through the rule's actuator. Refusals are not retried. */
    async actuate(request: ActuationRequest): Promise<ActuationResult> {
      const actuator = deps.actuators[request.actuator.type];
      try {
        const result = await actuator.actuate(request);
        deps.logger.info(
          { entity: request.entity, action: request.action, decisionId: request.decisionId },
          'actuated',
        );
        return result;
      } catch (err) {
        if (err instanceof ActuationRefusedError) {
          throw ApplicationFailure.nonRetryable(err.message, 'ActuationRefused', err.detail);
        }
        throw err;
      }
    },

    /** Publishes the verdict to Kafka, keyed by entity; resolves once acknowledged. */
    async publishVerdict(verdict: Verdict): Promise<void> {
      await sendJson(deps.producer, deps.verdictsTopic, [{ key: verdict.entity, value: verdict }]);
      deps.logger.info(
        { entity: verdict.entity, outcome: verdict.outcome, workflowId: verdict.workflowId },
        'verdict',
      );
    },
  };
}

/** Activity signatures, for the workflow's `proxyActivities` (type-only import). */
export type ActActivities = ReturnType<typeof createActActivities>;
