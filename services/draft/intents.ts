/**
 * The remediation templates a sentence can ask for: one per action of the starter pack, plus a
 * page-only rule. A template gives what the sentence need not say (args, lane, json-rules-engine
 * priority, the verification deadline and cooldown), from rules/README.md's starter pack.
 */

/** One remediation template. */
export interface IntentTemplate {
  /** The action the rule's event names. */
  readonly action: string;
  /** Args beside `entity` (placeholders as the starter rules use them). */
  readonly args: Readonly<Record<string, unknown>>;
  /**
   * json-rules-engine priority: causes before symptoms (rules/README.md), one below the starter rule
   * of the same action, so a broad draft never shadows a hand-written rule (`rules check`).
   */
  readonly priority: number;
  /** The remediation's lane (event.params.priority). */
  readonly lane: number;
  readonly within: string;
  readonly cooldown: string;
  /** Words for the rule name. */
  readonly slug: string;
  /** How explain and questions name it. */
  readonly label: string;
}

export const INTENTS = {
  scale_out: {
    action: 'scale_out',
    args: {},
    priority: 8,
    lane: 4,
    within: '5m',
    cooldown: '10m',
    slug: 'scale-out',
    label: 'scale out',
  },
  restart: {
    action: 'restart',
    args: { graceful: true },
    priority: 19,
    lane: 3,
    within: '10m',
    cooldown: '30m',
    slug: 'restart',
    label: 'restart',
  },
  rollback: {
    action: 'rollback',
    args: { service: '{{service}}' },
    priority: 29,
    lane: 2,
    within: '10m',
    cooldown: '30m',
    slug: 'rollback',
    label: 'roll back',
  },
  clean_disk: {
    action: 'clean_disk',
    args: { targets: ['rotated_logs', 'tmp', 'unused_images'] },
    priority: 14,
    lane: 4,
    within: '5m',
    cooldown: '30m',
    slug: 'clean-up',
    label: 'clean up the disk',
  },
  open_circuit_breaker: {
    action: 'open_circuit_breaker',
    args: { dependencies: '{{dependencies}}' },
    priority: 24,
    lane: 2,
    within: '5m',
    cooldown: '15m',
    slug: 'open-circuit-breaker',
    label: 'open the circuit breaker',
  },
  page: {
    action: 'page',
    args: {},
    priority: 4,
    lane: 3,
    within: '10m',
    cooldown: '30m',
    slug: 'page',
    label: 'page only',
  },
} as const satisfies Record<string, IntentTemplate>;

/** An intent class of the model: a key of INTENTS. */
export type Intent = keyof typeof INTENTS;

/** The intent classes in model order. */
export const INTENT_CLASSES = Object.keys(INTENTS) as Intent[];

/** True when `name` is an intent class. */
export function isIntent(name: string): name is Intent {
  return Object.hasOwn(INTENTS, name);
}
