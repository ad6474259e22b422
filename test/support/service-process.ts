import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../../infra/paths.js';
import type { Config } from '../../services/common/config.js';
import type { LoopStep } from '../../services/loop.js';

/**
 * One step of the loop as its own process (`services/<step>/main.ts`), configured like a test's
 * in-process services: the same brokers, topics, groups and task queues, plus `env`. Its stderr is
 * drained; the caller kills it (SIGKILL for crash tests) and must not leave it running.
 */
export function spawnService(step: LoopStep, c: Config, env: Record<string, string> = {}): ChildProcess {
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

/**
 * The settings a step reads beyond `spawnService`'s, as environment variables taken from `c`: a
 * process given them behaves as the step would in-process with `c` (rules, classifier, windows,
 * actuator and its key, the action budget, decision age). Durations are passed in milliseconds.
 */
export function stepEnv(c: Config): Record<string, string> {
  const ms = (v: number) => `${v}ms`;
  return {
    TEMPORAL_NAMESPACE: c.temporalNamespace,
    AUTOGLM_RULES_DIR: c.rulesDir,
    AUTOGLM_MODEL_DIR: c.modelDir,
    AUTOGLM_WINDOW: ms(c.window),
    AUTOGLM_EMIT_EVERY: ms(c.emitEvery),
    AUTOGLM_MAX_DECISION_AGE: ms(c.maxDecisionAge),
    AUTOGLM_HTTP_ACTUATOR_URL: c.httpActuatorUrl,
    AUTOGLM_HTTP_ACTUATOR_TIMEOUT: ms(c.httpActuatorTimeout),
    AUTOGLM_HTTP_ALLOWED_ORIGINS: c.httpAllowedOrigins.join(','),
    AUTOGLM_ACTUATOR_HMAC_KEY_FILE: c.actuatorHmacKeyFile,
    AUTOGLM_MAX_CONCURRENT_PER_ACTION: String(c.maxConcurrentPerAction),
    AUTOGLM_MAX_CONCURRENT_PER_RULE: String(c.maxConcurrentPerRule),
    AUTOGLM_MAX_ACTIONS_PER_PERIOD: String(c.maxActionsPerPeriod),
    AUTOGLM_ACTIONS_PERIOD: ms(c.actionsPeriod),
    AUTOGLM_MAX_DEFERRED: String(c.maxDeferred),
  };
}
