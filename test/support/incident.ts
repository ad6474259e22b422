import type { Producer } from 'kafkajs';
import type { TopicNames } from '../../services/common/config.js';
import type { Decision, Verdict } from '../../services/common/contracts.js';
import { sendJson } from '../../services/common/kafka.js';
import { streamMetric } from './metric-stream.js';
import type { TopicTap } from '../../services/common/topic-tap.js';

/** When each step of one incident was seen, in milliseconds after the first bad metric. */
export interface IncidentTimeline {
  readonly entity: string;
  readonly decisionMs: number;
  readonly actedMs: number | undefined;
  readonly verdictMs: number;
  readonly outcome: Verdict['outcome'];
  readonly verdict: Verdict;
}

/**
 * Plays one CPU incident against a running loop: `cpu` at `badValue` every `everyMs` until a
 * decision for `entity` appears, then `goodValue` until its verdict appears. With
 * `warmupSamples`, that many samples at `goodValue` (one per `everyMs`, ending now) come first,
 * all at once: sense's baseline for the entity is warm, so rules on `cpu.deviation` can fire.
 */
export async function driveIncident(opts: {
  producer: Producer;
  topics: TopicNames;
  decisions: TopicTap;
  verdicts: TopicTap;
  entity: string;
  badValue?: number;
  goodValue?: number;
  everyMs?: number;
  timeoutMs?: number;
  warmupSamples?: number;
}): Promise<IncidentTimeline> {
  const { producer, topics, entity } = opts;
  const everyMs = opts.everyMs ?? 200;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const decided = () => opts.decisions.values<Decision>((d) => d.entity === entity)[0];
  const verdictOf = () => opts.verdicts.values<Verdict>((v) => v.entity === entity)[0];
  const warmup = opts.warmupSamples ?? 0;
  if (warmup > 0) {
    const now = Date.now();
    const value = opts.goodValue ?? 20;
    await sendJson(
      producer,
      topics.metrics,
      Array.from({ length: warmup }, (_, i) => ({
        key: entity,
        value: { entity, metric: 'cpu', value, ts: now - (warmup - i) * everyMs },
      })),
    );
  }
  const t0 = Date.now();
  await streamMetric(
    producer,
    topics.metrics,
    { entity, metric: 'cpu', value: opts.badValue ?? 95 },
    {
      everyMs,
      maxMs: timeoutMs,
      until: () => decided() !== undefined,
    },
  );
  if (!decided())
    throw new Error(`no decision for ${entity} within ${timeoutMs}ms: is a rule on cpu.avg loaded?`);
  const decisionMs = Date.now() - t0;
  await streamMetric(
    producer,
    topics.metrics,
    { entity, metric: 'cpu', value: opts.goodValue ?? 20 },
    {
      everyMs,
      maxMs: timeoutMs,
      until: () => verdictOf() !== undefined,
    },
  );
  const verdict = verdictOf();
  if (!verdict) throw new Error(`no verdict for ${entity} within ${timeoutMs}ms after the decision`);
  const acted = (verdict.evidence.acted as { at?: number } | undefined)?.at;
  return {
    entity,
    decisionMs,
    actedMs: acted === undefined ? undefined : acted - t0,
    verdictMs: Date.now() - t0,
    outcome: verdict.outcome,
    verdict,
  };
}
