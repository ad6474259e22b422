import type { ActuatorRef } from '../../common/contracts.js';

/** What an actuator is asked to do; `idempotencyKey` is the same on every retry of one action. */
export interface ActuationRequest {
  readonly idempotencyKey: string;
  readonly decisionId: string;
  readonly entity: string;
  readonly action: string;
  readonly args: Record<string, unknown>;
  readonly actuator: ActuatorRef;
}

/** What the target answered, with the time the action took effect (epoch ms). */
export interface ActuationResult {
  readonly actuator: ActuatorRef['type'];
  readonly at: number;
  readonly detail: Record<string, unknown>;
}

/** One kind of actuator (http, command, …). */
export interface Actuator {
  actuate(request: ActuationRequest): Promise<ActuationResult>;
}

/** The target refused the action for good (4xx, not allowed): retrying cannot help. */
export class ActuationRefusedError extends Error {
  constructor(
    message: string,
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ActuationRefusedError';
  }
}
