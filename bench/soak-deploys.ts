/**
 * Reads back a kill soak run kept with `--keep-topics`: for each deploy event, when it was written,
 * and each observation of its entity whose window holds it: the window's end (seconds after the
 * deploy), whether it carries the deploy (D) or not (-), and when the observation was written
 * (seconds after the deploy); then the decisions on that entity. A lost bad deploy whose windows
 * show `-` is a join problem in sense; all `D` points at decide or later.
 *
 *   npx tsx bench/soak-deploys.ts <run id, e.g. soak-118be001>
 */
// First: kafkajs must load with our read_committed filter (see the module).
import '../services/common/kafkajs-aborted-filter.js';
import type { KafkaMessage } from 'kafkajs';
import { loadConfig, topicNames } from '../services/common/config.js';
import type { Decision, Observation, OpsEvent } from '../services/common/contracts.js';
import { createKafka } from '../services/common/kafka.js';
import { readPartitions } from '../services/common/kafka-read.js';
import { createLogger } from '../services/common/logger.js';

const id = process.argv[2];
if (!id || id.startsWith('-')) {
  process.stderr.write(
    'usage: npx tsx bench/soak-deploys.ts <run id printed by kill-soak, e.g. soak-118be001>\n',
  );
  process.exit(2);
}
const logger = createLogger('warn');
const config = loadConfig(process.env, { topicPrefix: `${id}.autoglm`, groupPrefix: id, logLevel: 'warn' });
const kafka = createKafka(config, logger);
const topics = topicNames(config);

/** Every message of `topic` with its write time (ms), value parsed. */
async function readAll<T>(topic: string): Promise<Array<{ at: number; value: T }>> {
  const admin = kafka.admin();
  await admin.connect();
  const partitions = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const out: Array<{ at: number; value: T }> = [];
  const { complete } = await readPartitions(
    kafka,
    topic,
    new Map(partitions.map((p) => [p.partition, 'earliest' as const])),
    (_, m: KafkaMessage) => out.push({ at: Number(m.timestamp), value: JSON.parse(String(m.value)) as T }),
    { maxMessages: Number.MAX_SAFE_INTEGER, timeoutMs: 60_000 },
    `${id}-read-back`,
  );
  if (!complete) process.stderr.write(`${topic}: not read to its end within 60 s\n`);
  return out;
}

const events = await readAll<OpsEvent>(topics.events);
const observations = await readAll<Observation>(topics.observations);
const decisions = await readAll<Decision>(topics.decisions);
const s = (ms: number) => (ms / 1000).toFixed(0);
for (const { at, value: deploy } of events.filter((e) => e.value.kind === 'deploy')) {
  const holding = observations
    .filter(
      ({ value: o }) => o.entity === deploy.entity && o.window.start < deploy.ts && deploy.ts <= o.window.end,
    )
    .sort((a, b) => a.value.ts - b.value.ts);
  const without = holding.filter(({ value: o }) => !o.events.some((e) => e.kind === 'deploy')).length;
  process.stdout.write(
    `${deploy.entity}: deploy at ${new Date(deploy.ts).toISOString().slice(11, 23)}, written ${at - deploy.ts} ms later; ` +
      `${holding.length} windows hold it, ${without} without it\n  ` +
      holding
        .map(({ at: written, value: o }) => {
          const carried = o.events.some((e) => e.kind === 'deploy') ? 'D' : '-';
          return `${s(o.ts - deploy.ts)}${carried}@${s(written - deploy.ts)}`;
        })
        .join(' ') +
      '\n',
  );
  for (const { value: d } of decisions.filter((d) => d.value.entity === deploy.entity))
    process.stdout.write(`  decision ${d.decisionId}: ${d.rule} (${d.action})${d.stale ? ', stale' : ''}\n`);
}
process.exit(0);
