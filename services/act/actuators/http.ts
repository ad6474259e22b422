import {
  ActuationRefusedError,
  type ActuationRequest,
  type ActuationResult,
  type Actuator,
} from './actuator.js';

export interface HttpActuatorOptions {
  /** Used when the rule names no URL. */
  readonly defaultUrl: string;
  readonly timeoutMs: number;
}

/**
 * POSTs the action as JSON to the rule's URL (or the default), with an `Idempotency-Key` header
 * so a retried activity is recognisable by the target. 2xx is success; 408, 429 and 5xx are
 * transient (thrown as plain errors for the retry policy); other statuses are refusals.
 */
export function httpActuator(opts: HttpActuatorOptions): Actuator {
  return {
    async actuate(request: ActuationRequest): Promise<ActuationResult> {
      const url = request.actuator.url ?? opts.defaultUrl;
      const body = {
        idempotencyKey: request.idempotencyKey,
        decisionId: request.decisionId,
        entity: request.entity,
        action: request.action,
        args: request.args,
      };
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': request.idempotencyKey },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      const text = (await response.text()).slice(0, 2048);
      const detail = { url, status: response.status, body: text };
      if (response.ok) return { actuator: 'http', at: Date.now(), detail };
      const transient = response.status === 408 || response.status === 429 || response.status >= 500;
      if (transient) throw new Error(`${url} answered ${response.status}: ${text}`);
      throw new ActuationRefusedError(`${url} refused the action with ${response.status}: ${text}`, detail);
    },
  };
}
