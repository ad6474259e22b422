import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../services/common/config.js';
import { isolatedLoopSettings } from '../../services/fleet-sim/fast-loop.js';

/** A short random suffix for names that must not collide between tests and runs. */
export function unique(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

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
