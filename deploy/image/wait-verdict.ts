/**
 * Waits for the first verdict with outcome "verified" on `<prefix>.verdicts` (read from the start)
 * and prints it; exits 1 when none came within the time given. build-and-run.sh runs it on the host
 * while the steps run from the image: `npx tsx deploy/image/wait-verdict.ts <brokers> <prefix> <seconds>`.
 */
import { loadConfig } from '../../services/common/config.js';
import { verdictSchema } from '../../services/common/contracts.js';
import { createKafka } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';

const [brokers = '127.0.0.1:9092', prefix = 'autoglm', seconds = '600'] = process.argv.slice(2);
// Through createKafka, so a compressed or secured cluster is read like the steps read it.
const config = { ...loadConfig({ ...process.env, KAFKA_BROKERS: brokers }), kafkaClientId: 'wait-verdict' };
const kafka = createKafka(config, createLogger('error', 'wait-verdict'));
const consumer = kafka.consumer({ groupId: `${prefix}-wait-verdict-${process.pid}` });
const started = Date.now();
setTimeout(
  () => {
    process.stderr.write(`no verified verdict on ${prefix}.verdicts within ${seconds}s\n`);
    void consumer.disconnect().finally(() => process.exit(1));
  },
  Number(seconds) * 1000,
);

// The steps create the topics as they start: wait for the verdicts topic first.
const admin = kafka.admin();
await admin.connect();
while (!(await admin.listTopics()).includes(`${prefix}.verdicts`))
  await new Promise((r) => setTimeout(r, 1000));
await admin.disconnect();
await consumer.connect();
await consumer.subscribe({ topic: `${prefix}.verdicts`, fromBeginning: true });
await consumer.run({
  eachMessage: async ({ message }) => {
    const verdict = verdictSchema.safeParse(JSON.parse(message.value?.toString() ?? 'null'));
    if (!verdict.success) return;
    const v = verdict.data;
    process.stdout.write(`verdict ${v.outcome}: ${v.rule} ${v.action} on ${v.entity} (${v.workflowId})\n`);
    if (v.outcome !== 'verified') return;
    process.stdout.write(`first verified verdict after ${((Date.now() - started) / 1000).toFixed(0)}s\n`);
    // Not consumer.disconnect(): inside eachMessage it waits for this handler, which never returns.
    process.exit(0);
  },
});
