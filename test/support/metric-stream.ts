import { setTimeout as sleep } from 'node:timers/promises';
import type { Producer } from 'kafkajs';

/** Produces JSON values (or raw strings) keyed by entity, acknowledged by all replicas. */
export async function produce(
  producer: Producer,
  topic: string,
  records: ReadonlyArray<{ key: string; value: unknown }>,
) {
  await producer.send({
    topic,
    acks: -1,
    messages: records.map((r) => ({
      key: r.key,
      value: typeof r.value === 'string' ? r.value : JSON.stringify(r.value),
    })),
  });
}

/**
 * Produces one `metric` sample for `entity` every `everyMs` (event time = now) until `stop`
 * resolves true or `maxMs` passes; returns how many were sent.
 */
export async function streamMetric(
  producer: Producer,
  topic: string,
  sample: { entity: string; metric: string; value: number },
  opts: { everyMs: number; maxMs: number; until: () => boolean },
): Promise<number> {
  const deadline = Date.now() + opts.maxMs;
  let sent = 0;
  while (!opts.until() && Date.now() < deadline) {
    await produce(producer, topic, [{ key: sample.entity, value: { ...sample, ts: Date.now() } }]);
    sent++;
    await sleep(opts.everyMs);
  }
  return sent;
}
