/**
 * Reads back a kill soak run kept with `--keep-topics`: for each rollback decision on a deployed
 * entity, how long after the deploy its window ended (past the window's length: the deploy event
 * had left it, and only `deploy.ageSeconds` let the rule match), whether decide published it stale,
 * and its verdicts; then the stale ends by action. Shows whether a rollback that ended stale was
 * decided again and acted.
 *
 *   npx tsx bench/soak-rollbacks.ts <run id printed by kill-soak, e.g. soak-118be001>
 */
// First: kafkajs must load with our read_committed filter (see the module).
import '../services/common/kafkajs-aborted-filter.js';
import { loadConfig, topicNames } from '../services/common/config.js';
import type { Decision, OpsEvent, Verdict } from '../services/common/contracts.js';
import { createKafka } from '../services/common/kafka.js';
import { readPartitions } from '../services/common/kafka-read.js';
import { createLogger } from '../services/common/logger.js';

const id = process.argv[2];
if (!id || !/^[a-z]+-[0-9a-f]{8}$/.test(id)) {
  process.stderr.write(
    'usage: npx tsx bench/soak-rollbacks.ts <run id printed by kill-soak, e.g. soak-118be001>\n',
  );
  process.exit(2);
}
const config = loadConfig(process.env, { topicPrefix: `${id}.autoglm`, groupPrefix: id, logLevel: 'warn' });
const kafka = createKafka(config, createLogger('warn'));
const topics = topicNames(config);

/** Every message of `topic`, value parsed. */
async function readAll<T>(topic: string): Promise<T[]> {
  const admin = kafka.admin();
  await admin.connect();
  const partitions = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const out: T[] = [];
  const { complete } = await readPartitions(
    kafka,
    topic,
    new Map(partitions.map((p) => [p.partition, 'earliest' as const])),
    (_, m) => {
      if (m.value) out.push(JSON.parse(String(m.value)) as T);
    },
    { maxMessages: Number.MAX_SAFE_INTEGER, timeoutMs: 60_000 },
    `${id}-rollbacks-read-back`,
  );
  if (!complete) process.stderr.write(`${topic}: not read to its end within 60 s\n`);
  return out;
}

const events = await readAll<OpsEvent>(topics.events);
const decisions = await readAll<Decision>(topics.decisions);
const verdicts = await readAll<Verdict>(topics.verdicts);
const deployedAt = new Map<string, number>();
for (const e of events)
  if (e.kind === 'deploy' && !(e.ts <= (deployedAt.get(e.entity) ?? -Infinity)))
    deployedAt.set(e.entity, e.ts);
const outcomes = new Map<string, string[]>();
for (const v of verdicts) outcomes.set(v.decisionId, [...(outcomes.get(v.decisionId) ?? []), v.outcome]);

const say = (line: string) => process.stdout.write(`${line}\n`);
let outOfWindow = 0;
let actedOutOfWindow = 0;
for (const d of decisions.sort((a, b) => a.entity.localeCompare(b.entity) || a.window.end - b.window.end)) {
  const deploy = deployedAt.get(d.entity);
  if (d.action !== 'rollback' || deploy === undefined) continue;
  const ageS = (d.window.end - deploy) / 1000;
  const gone = d.window.start >= deploy;
  const verdict = outcomes.get(d.decisionId) ?? [];
  if (gone) {
    outOfWindow++;
    if (verdict.some((o) => o !== 'stale')) actedOutOfWindow++;
  }
  say(
    `${d.entity} ${d.decisionId.slice(0, 12)}: window ends ${ageS.toFixed(1)} s after the deploy` +
      `${gone ? ', the deploy out of the window' : ''}${d.stale ? ', published stale' : ''}; ` +
      `verdicts: ${verdict.join(', ') || 'none'}`,
  );
}
const stale = verdicts.filter((v) => v.outcome === 'stale');
const byAction = new Map<string, number>();
for (const v of stale) byAction.set(v.action, (byAction.get(v.action) ?? 0) + 1);
say('');
say(
  `rollback decisions with the deploy out of their window: ${outOfWindow}, with a verdict other than stale: ${actedOutOfWindow}`,
);
say(
  `verdicts: ${verdicts.length}; stale ends: ${stale.length} (${[...byAction].map(([a, n]) => `${a} ${n}`).join(', ') || 'none'})`,
);
