/**
 * Another fleet's wording of the simulator's events: none of the phrases the classifier's own
 * scenarios use (services/classifier/scenarios.ts), so whatever a model learned from our words
 * alone does not carry over and the metrics have to. Used by the running simulator
 * (AUTOGLM_FLEET_EVENT_WORDING=other) and by the classifier's cross-generator evaluation.
 */
import type { OpsEvent } from '../common/contracts.js';

/** How the simulator words its events: as our software does, or as another fleet's does. */
export const EVENT_WORDINGS = ['ours', 'other'] as const;
export type EventWording = (typeof EVENT_WORDINGS)[number];

const OTHER_PHRASING: ReadonlyArray<readonly [RegExp, string]> = [
  [/^dial tcp .*connection refused$/, 'ECONNREFUSED while calling backend'],
  [/^upstream timeout (.*)$/, 'backend $1 not answering (deadline exceeded)'],
  [/^CPUThrottlingHigh$/, 'processor throttled for 40% of periods'],
  [/^HPA at max replicas$/, 'autoscaler cannot add pods: limit reached'],
  [/^OOMKilled$/, 'process killed: out of memory'],
  [/^container restarted$/, 'pod restarted'],
  [/^Back-off restarting failed container$/, 'crash loop back-off'],
  [/^GC overhead.*$/, 'heap nearly exhausted'],
  [/^deployed (.*)$/, 'rollout of $1 finished'],
  [/^5xx spike on (.*)$/, 'http 500 rate high on $1'],
  [/^NullPointerException.*$/, 'TypeError: cannot read properties of undefined'],
  [/^write failed: no space left on device$/, 'ENOSPC: could not write file'],
  [/^node condition DiskPressure$/, 'volume almost full'],
  [/^disk full$/, 'volume full'],
  [/^evicting pods$/, 'pods evicted by kubelet'],
];

/** `message` as the other fleet words it (unchanged when it has no other wording). */
export function otherPhrasing(message: string): string {
  for (const [pattern, replacement] of OTHER_PHRASING)
    if (pattern.test(message)) return message.replace(pattern, replacement);
  return message;
}

/** The events as a fleet of `wording` words them; their kind, time and attributes are kept. */
export function wordEvents(events: readonly OpsEvent[], wording: EventWording): OpsEvent[] {
  if (wording === 'ours') return events as OpsEvent[];
  return events.map((e) => ({ ...e, message: otherPhrasing(e.message) }));
}
