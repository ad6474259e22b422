import type { Kafka } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TopicTap } from '../../services/common/topic-tap.js';

/**
 * Waits until consumer group `groupId` has committed, on every partition of `topic`, at least
 * the offsets the topic had when this was called: every message produced before then has been
 * handled (the steps commit a batch only after handling it in full). Throws after `timeoutMs`
 * naming the partitions behind. A positive check that the step ran: a negative assertion
 * ("no decision for …") made after it cannot pass with the step stopped.
 */
export async function waitForGroupCaughtUp(
  kafka: Kafka,
  groupId: string,
  topic: string,
  timeoutMs = 30_000,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    // A partition that never held a message has nothing to commit.
    const highs = new Map(
      (await admin.fetchTopicOffsets(topic))
        .filter((p) => BigInt(p.high) > BigInt(p.low))
        .map((p) => [p.partition, BigInt(p.high)]),
    );
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const behind = [...highs].filter(([partition, high]) => {
        const offset = committed?.partitions.find((p) => p.partition === partition)?.offset ?? '-1';
        return BigInt(offset) < high;
      });
      if (behind.length === 0) return;
      if (Date.now() > deadline)
        throw new Error(
          `group ${groupId} has not committed ${topic} up to ${behind.map(([p, h]) => `partition ${p} offset ${h}`).join(', ')} within ${timeoutMs}ms`,
        );
      await sleep(200);
    }
  } finally {
    await admin.disconnect();
  }
}

/** Waits until `tap` has read every message `topic` held when this was called (it reads from the beginning). */
export async function waitForTapCaughtUp(kafka: Kafka, tap: TopicTap, topic: string, timeoutMs = 30_000) {
  const admin = kafka.admin();
  await admin.connect();
  let total = 0;
  try {
    for (const p of await admin.fetchTopicOffsets(topic)) total += Number(p.high) - Number(p.low);
  } finally {
    await admin.disconnect();
  }
  const deadline = Date.now() + timeoutMs;
  while (tap.messages.length < total) {
    if (Date.now() > deadline)
      throw new Error(
        `the tap on ${topic} read ${tap.messages.length} of ${total} messages in ${timeoutMs}ms`,
      );
    await sleep(100);
  }
}
