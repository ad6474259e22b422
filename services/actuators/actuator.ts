import type { ActuatorRef, ActuatorType } from '../common/contracts.js';

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
  readonly actuator: ActuatorType;
  readonly at: number;
  readonly detail: Record<string, unknown>;
}

/**
 * One kind of actuator (http, command, …). `check` lists what is wrong with a rule's ref ([] when
 * fine) so a bad rule fails at load; `actuate` checks again, as the environment may have changed.
 */
export interface Actuator {
  readonly type: ActuatorType;
  check(ref: ActuatorRef): string[];
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

/** The configured actuators by type; an unknown or unconfigured type is a refusal, not a crash. */
export interface ActuatorRegistry {
  readonly types: readonly ActuatorType[];
  /** The actuator for `type`; throws ActuationRefusedError when none is configured. */
  get(type: ActuatorType): Actuator;
  /** Problems with a rule's ref, the unknown type included; [] when it can be actuated. */
  check(ref: ActuatorRef): string[];
}

/** Builds the registry; adding an actuator is one new file plus one entry in this call's array. */
export function createActuatorRegistry(actuators: readonly Actuator[]): ActuatorRegistry {
  const byType = new Map<ActuatorType, Actuator>();
  for (const actuator of actuators) {
    // Two actuators for one type would make the choice depend on array order.
    if (byType.has(actuator.type)) throw new Error(`two actuators registered for type "${actuator.type}"`);
    byType.set(actuator.type, actuator);
  }
  const types = Object.freeze([...byType.keys()]);
  const unknown = (type: string) =>
    `actuator type "${type}" is not configured (configured: ${types.join(', ') || 'none'})`;
  return {
    types,
    get(type) {
      const actuator = byType.get(type);
      if (!actuator) throw new ActuationRefusedError(unknown(type), { actuator: type });
      return actuator;
    },
    check(ref) {
      const actuator = byType.get(ref.type);
      return actuator ? actuator.check(ref) : [unknown(ref.type)];
    },
  };
}

/**
 * At most `maxBytes` of `bytes` as valid UTF-8 text, cut on a character boundary, so evidence
 * stays bounded in bytes even for binary output (invalid sequences become U+FFFD first).
 */
export function boundedText(bytes: Uint8Array, maxBytes: number): string {
  const valid = Buffer.from(new TextDecoder().decode(bytes));
  let end = Math.min(maxBytes, valid.length);
  // Back off while the cut would fall inside a multi-byte character (continuation byte 10xxxxxx).
  while (end > 0 && end < valid.length && ((valid[end] ?? 0) & 0xc0) === 0x80) end--;
  return valid.subarray(0, end).toString('utf8');
}
