import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../../infra/paths.js';
import type { Config } from '../../services/common/config.js';

/**
 * One step of the loop as its own process (`services/<step>/main.ts`), configured like a test's
 * in-process services: the same brokers, topics, groups and task queues, plus `env`. Its stderr is
 * drained; the caller kills it (SIGKILL for crash tests) and must not leave it running.
 */
export function spawnService(
  step: 'sense' | 'act' | 'verify',
  c: Config,
  env: Record<string, string> = {},
): ChildProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, `services/${step}/main.ts`)],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        KAFKA_BROKERS: c.kafkaBrokers.join(','),
        TEMPORAL_ADDRESS: c.temporalAddress,
        AUTOGLM_TOPIC_PREFIX: c.topicPrefix,
        AUTOGLM_TOPIC_PARTITIONS: String(c.topicPartitions),
        AUTOGLM_GROUP_PREFIX: c.groupPrefix,
        AUTOGLM_ACT_TASK_QUEUE: c.actTaskQueue,
        AUTOGLM_VERIFY_TASK_QUEUE: c.verifyTaskQueue,
        AUTOGLM_OPS_PORT: '0',
        LOG_LEVEL: 'warn',
        ...env,
      },
    },
  );
  child.stderr?.resume();
  return child;
}
