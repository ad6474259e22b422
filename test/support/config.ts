import { loadConfig, type Config } from '../../services/common/config.js';
import { isolatedLoopSettings } from './fast-loop.js';

/** A name no other test or run uses. */
export { uniqueName as unique } from '../../services/common/unique-name.js';

/**
 * A configuration for one test: its own topics, consumer groups and task queues, fast windows,
 * and the infra endpoints `npm test` exported (defaults: the local ones).
 */
export function testConfig(overrides: Parameters<typeof loadConfig>[1] = {}): Config {
  return loadConfig(
    { KAFKA_BROKERS: process.env.KAFKA_BROKERS, TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS },
    { ...isolatedLoopSettings('t'), topicPartitions: '2', ...overrides },
  );
}

/** Overrides for a run of its own (topics, groups, task queues), as `loadConfig` takes them. */
export function testOverrides(): NonNullable<Parameters<typeof loadConfig>[1]> {
  const c = testConfig();
  return {
    topicPrefix: c.topicPrefix,
    groupPrefix: c.groupPrefix,
    actTaskQueue: c.actTaskQueue,
    verifyTaskQueue: c.verifyTaskQueue,
    topicPartitions: String(c.topicPartitions),
    opsPort: '0',
    logLevel: 'warn',
  };
}
