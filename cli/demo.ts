import { loadConfig, topicNames } from '../services/common/config.js';
import { connectProducer, createKafka } from '../services/common/kafka.js';
import { createLogger } from '../services/common/logger.js';
import { driveIncident } from '../services/fleet-sim/incident.js';
import { TopicTap } from '../services/fleet-sim/topic-tap.js';
import { uniqueName } from '../services/fleet-sim/unique-name.js';

/**
 * `autoglm demo [entity]`: plays one CPU incident against a running `autoglm up` and prints
 * when the decision, the action and the verdict happened. The entity first reports a normal CPU
 * (so the starter rule's `cpu.deviation` has a baseline); the verdict needs the CPU to stay back at
 * its normal for `stableFor` (1m).
 */
export async function runDemo(args: readonly string[]): Promise<number> {
  const config = loadConfig();
  const logger = createLogger('warn');
  const topics = topicNames(config);
  const entity = args[0] ?? uniqueName('demo');
  const kafka = createKafka(config, logger);
  const producer = await connectProducer(kafka);
  const decisions = await new TopicTap(kafka, topics.decisions, logger).start();
  const verdicts = await new TopicTap(kafka, topics.verdicts, logger).start();
  try {
    process.stderr.write(
      `demo: 40 samples of cpu=20 for ${entity} on ${topics.metrics} (its baseline), then cpu=95 until a decision, then cpu=20 until a verdict\n`,
    );
    const t = await driveIncident({
      producer,
      topics,
      decisions,
      verdicts,
      entity,
      everyMs: 1000,
      timeoutMs: 10 * 60_000,
      // The starter CPU rule compares the entity with its own normal: give sense one first.
      warmupSamples: 40,
    });
    process.stdout.write(
      `entity ${entity}\n  decision after ${t.decisionMs} ms\n  action after   ${t.actedMs ?? '?'} ms\n` +
        `  verdict after  ${t.verdictMs} ms: ${t.outcome}\n  workflow ${t.verdict.workflowId} (see the Temporal UI)\n`,
    );
    return t.outcome === 'verified' ? 0 : 1;
  } finally {
    await decisions.stop();
    await verdicts.stop();
    await producer.disconnect();
  }
}
