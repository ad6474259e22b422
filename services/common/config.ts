import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { MAX_MESSAGE_BYTES } from './contracts.js';
import { parseDuration } from './duration.js';
import { parseKafkaSecurity, type KafkaSecurity } from './kafka-security.js';
import { parseTemporalSecurity, type TemporalSecurity } from './temporal-security.js';
import { checkHttpUrl, parseAllowedOrigins, redactCredentials } from './url-policy.js';

/** Start-up configuration is wrong; `problems` lists every bad setting with its fix. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Runs one start-up check (a file named by config, say); a ConfigError it throws goes into
 * `problems` and undefined is returned, so start-up checks the rest too and throws one ConfigError
 * listing them all. Any other error is thrown on.
 */
export function collectProblems<T>(problems: string[], check: () => T): T | undefined {
  try {
    return check();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
    return undefined;
  }
}

/** The package's root folder (two levels above services/common), whose `rules/` is the default rules folder. */
const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

const duration = (example: string) =>
  z.string().transform((s, ctx) => {
    const ms = parseDuration(s);
    if (ms === undefined)
      ctx.addIssue({ code: 'custom', message: `must be a duration such as "${example}"` });
    return ms ?? 0;
  });
const port = z.coerce.number().int().min(0).max(65535);
const name = z.string().regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits, dot, underscore and dash');

/** Each setting, the environment variable it comes from, and its default. */
const ENV = {
  kafkaBrokers: ['KAFKA_BROKERS', '127.0.0.1:9092'],
  kafkaClientId: ['AUTOGLM_KAFKA_CLIENT_ID', 'autoglm'],
  kafkaMaxBatchBytes: ['AUTOGLM_KAFKA_MAX_BATCH_BYTES', String(256 * 1024 * 1024)],
  kafkaSessionTimeout: ['AUTOGLM_KAFKA_SESSION_TIMEOUT', '10s'],
  topicPrefix: ['AUTOGLM_TOPIC_PREFIX', 'autoglm'],
  topicPartitions: ['AUTOGLM_TOPIC_PARTITIONS', '3'],
  groupPrefix: ['AUTOGLM_GROUP_PREFIX', 'autoglm'],
  temporalAddress: ['TEMPORAL_ADDRESS', '127.0.0.1:7233'],
  temporalNamespace: ['TEMPORAL_NAMESPACE', 'default'],
  actTaskQueue: ['AUTOGLM_ACT_TASK_QUEUE', 'autoglm-act'],
  verifyTaskQueue: ['AUTOGLM_VERIFY_TASK_QUEUE', 'autoglm-verify'],
  guardTaskQueue: ['AUTOGLM_GUARD_TASK_QUEUE', ''],
  guardSlots: ['AUTOGLM_GUARD_SLOTS', '16'],
  rulesDir: ['AUTOGLM_RULES_DIR', path.join(packageRoot, 'rules')],
  runbooksDir: ['AUTOGLM_RUNBOOKS_DIR', path.join(packageRoot, 'runbooks')],
  runbookHits: ['AUTOGLM_RUNBOOK_HITS', '3'],
  intentModelDir: ['AUTOGLM_INTENT_MODEL_DIR', path.join(packageRoot, 'models', 'intent')],
  draftMinIntentConfidence: ['AUTOGLM_DRAFT_MIN_INTENT_CONFIDENCE', '0.6'],
  draftMaxSentenceChars: ['AUTOGLM_DRAFT_MAX_SENTENCE_CHARS', '1000'],
  window: ['AUTOGLM_WINDOW', '30s'],
  emitEvery: ['AUTOGLM_EMIT_EVERY', '5s'],
  maxClockSkew: ['AUTOGLM_MAX_CLOCK_SKEW', '5m'],
  maxAbsValue: ['AUTOGLM_MAX_ABS_VALUE', '1e12'],
  maxMetricsPerEntity: ['AUTOGLM_MAX_METRICS_PER_ENTITY', '64'],
  maxObservationBytes: ['AUTOGLM_MAX_OBSERVATION_BYTES', '32768'],
  maxEntities: ['AUTOGLM_MAX_ENTITIES', '200000'],
  dlqMaxValueBytes: ['AUTOGLM_DLQ_MAX_VALUE_BYTES', '16384'],
  httpActuatorUrl: ['AUTOGLM_HTTP_ACTUATOR_URL', 'http://127.0.0.1:8090/actuate'],
  httpActuatorTimeout: ['AUTOGLM_HTTP_ACTUATOR_TIMEOUT', '5s'],
  httpAllowedOrigins: ['AUTOGLM_HTTP_ALLOWED_ORIGINS', ''],
  httpHeadersFile: ['AUTOGLM_HTTP_HEADERS_FILE', ''],
  actuatorHmacKeyFile: ['AUTOGLM_ACTUATOR_HMAC_KEY_FILE', ''],
  actuatorMaxResponseBytes: ['AUTOGLM_ACTUATOR_MAX_RESPONSE_BYTES', '4096'],
  commandDir: ['AUTOGLM_COMMAND_DIR', ''],
  commandTimeout: ['AUTOGLM_COMMAND_TIMEOUT', '30s'],
  commandUser: ['AUTOGLM_COMMAND_USER', ''],
  alertmanagerUrl: ['AUTOGLM_ALERTMANAGER_URL', ''],
  alertmanagerSilenceFor: ['AUTOGLM_ALERTMANAGER_SILENCE_FOR', '1h'],
  pagerdutyUrl: ['AUTOGLM_PAGERDUTY_URL', ''],
  pagerdutyRoutingKeyFile: ['AUTOGLM_PAGERDUTY_ROUTING_KEY_FILE', ''],
  temporalUiUrl: ['AUTOGLM_TEMPORAL_UI_URL', ''],
  maxDecisionAge: ['AUTOGLM_MAX_DECISION_AGE', '3m'],
  approvalTimeout: ['AUTOGLM_APPROVAL_TIMEOUT', '30m'],
  approvalMaxByChars: ['AUTOGLM_APPROVAL_MAX_BY_CHARS', '128'],
  approvalMaxReasonChars: ['AUTOGLM_APPROVAL_MAX_REASON_CHARS', '1024'],
  approvalMaxRefusedKept: ['AUTOGLM_APPROVAL_MAX_REFUSED_KEPT', '10'],
  approversFile: ['AUTOGLM_APPROVERS_FILE', ''],
  approvalProofMaxAge: ['AUTOGLM_APPROVAL_PROOF_MAX_AGE', '5m'],
  approverKeyFile: ['AUTOGLM_APPROVER_KEY_FILE', ''],
  maxConcurrentPerAction: ['AUTOGLM_MAX_CONCURRENT_PER_ACTION', '5'],
  maxConcurrentPerRule: ['AUTOGLM_MAX_CONCURRENT_PER_RULE', '5'],
  maxActionsPerPeriod: ['AUTOGLM_MAX_ACTIONS_PER_PERIOD', '20'],
  actionsPeriod: ['AUTOGLM_ACTIONS_PERIOD', '10m'],
  maxDeferred: ['AUTOGLM_MAX_DEFERRED', '100'],
  laneHold: ['AUTOGLM_LANE_HOLD', '60s'],
  startTimeout: ['AUTOGLM_START_TIMEOUT', '10s'],
  maxStartFailures: ['AUTOGLM_MAX_START_FAILURES', '3'],
  decideStartConcurrency: ['AUTOGLM_DECIDE_START_CONCURRENCY', '32'],
  rulesReloadInterval: ['AUTOGLM_RULES_RELOAD_INTERVAL', '2s'],
  episodeMaxTracked: ['AUTOGLM_EPISODE_MAX_TRACKED', '100000'],
  episodeIdle: ['AUTOGLM_EPISODE_IDLE', '1h'],
  episodeRestoreTimeout: ['AUTOGLM_EPISODE_RESTORE_TIMEOUT', '2m'],
  verifyMaxObservationsPerEntity: ['AUTOGLM_VERIFY_MAX_OBSERVATIONS_PER_ENTITY', '256'],
  verifyReadBackMaxMessages: ['AUTOGLM_VERIFY_READ_BACK_MAX_MESSAGES', '2000000'],
  verifyReadBackTimeout: ['AUTOGLM_VERIFY_READ_BACK_TIMEOUT', '60s'],
  verifyReadBackConcurrency: ['AUTOGLM_VERIFY_READ_BACK_CONCURRENCY', '4'],
  verdictPublishAlarm: ['AUTOGLM_VERDICT_PUBLISH_ALARM', '2m'],
  baseline: ['AUTOGLM_BASELINE', 'on'],
  baselineHalfLife: ['AUTOGLM_BASELINE_HALF_LIFE', '3h'],
  baselineWarmupSamples: ['AUTOGLM_BASELINE_WARMUP_SAMPLES', '30'],
  baselineLearn: ['AUTOGLM_BASELINE_LEARN', '2d'],
  baselineAdaptAfter: ['AUTOGLM_BASELINE_ADAPT_AFTER', '3h'],
  baselineFreezeDeviation: ['AUTOGLM_BASELINE_FREEZE_DEVIATION', '4'],
  baselineAnomalyDeviation: ['AUTOGLM_BASELINE_ANOMALY_DEVIATION', '4.5'],
  baselineSeasonality: ['AUTOGLM_BASELINE_SEASONALITY', 'daily,weekly'],
  baselineMaxStates: ['AUTOGLM_BASELINE_MAX_STATES', '500000'],
  baselineMinSpread: ['AUTOGLM_BASELINE_MIN_SPREAD', 'cpu=0.3'],
  baselineTailRisk: ['AUTOGLM_BASELINE_TAIL_RISK', '0.006'],
  baselineTailHalfLife: ['AUTOGLM_BASELINE_TAIL_HALF_LIFE', '2d'],
  baselineTailPeakRank: ['AUTOGLM_BASELINE_TAIL_PEAK_RANK', '4'],
  baselineTailPeakHalfLife: ['AUTOGLM_BASELINE_TAIL_PEAK_HALF_LIFE', '2d'],
  baselineTailPeakDeviation: ['AUTOGLM_BASELINE_TAIL_PEAK_DEVIATION', '3'],
  baselineDriftHalfLife: ['AUTOGLM_BASELINE_DRIFT_HALF_LIFE', '7d'],
  baselineIdle: ['AUTOGLM_BASELINE_IDLE', '14d'],
  baselineRestoreTimeout: ['AUTOGLM_BASELINE_RESTORE_TIMEOUT', '2m'],
  senseEventsWait: ['AUTOGLM_SENSE_EVENTS_WAIT', '30s'],
  senseEventsReplay: ['AUTOGLM_SENSE_EVENTS_REPLAY', '15m'],
  modelDir: ['AUTOGLM_MODEL_DIR', path.join(packageRoot, 'models', 'incident')],
  ingestPort: ['AUTOGLM_INGEST_PORT', '9480'],
  ingestHost: ['AUTOGLM_INGEST_HOST', '127.0.0.1'],
  ingestAuth: ['AUTOGLM_INGEST_AUTH', 'tokens'],
  ingestTokensDir: ['AUTOGLM_INGEST_TOKENS_DIR', ''],
  ingestMappingsDir: ['AUTOGLM_INGEST_MAPPINGS_DIR', ''],
  ingestMaxBodyBytes: ['AUTOGLM_INGEST_MAX_BODY_BYTES', String(4 * 1024 * 1024)],
  ingestMaxDecodedBytes: ['AUTOGLM_INGEST_MAX_DECODED_BYTES', String(16 * 1024 * 1024)],
  ingestMaxPendingBytes: ['AUTOGLM_INGEST_MAX_PENDING_BYTES', String(64 * 1024 * 1024)],
  ingestRate: ['AUTOGLM_INGEST_RATE', '100'],
  ingestBurst: ['AUTOGLM_INGEST_BURST', '200'],
  ingestKafkaTimeout: ['AUTOGLM_INGEST_KAFKA_TIMEOUT', '10s'],
  ingestProducers: ['AUTOGLM_INGEST_PRODUCERS', '4'],
  ingestRetryAfter: ['AUTOGLM_INGEST_RETRY_AFTER', '5s'],
  opsPort: ['AUTOGLM_OPS_PORT', '9400'],
  opsHost: ['AUTOGLM_OPS_HOST', '127.0.0.1'],
  consolePort: ['AUTOGLM_CONSOLE_PORT', '9400'],
  consoleHost: ['AUTOGLM_CONSOLE_HOST', '127.0.0.1'],
  consoleTokenFile: ['AUTOGLM_CONSOLE_TOKEN_FILE', ''],
  consoleRange: ['AUTOGLM_CONSOLE_RANGE', '6h'],
  consolePoints: ['AUTOGLM_CONSOLE_POINTS', '360'],
  consoleMaxEntities: ['AUTOGLM_CONSOLE_MAX_ENTITIES', '10000'],
  logLevel: ['LOG_LEVEL', 'info'],
} as const;

const schema = z.object({
  kafkaBrokers: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean),
    )
    .pipe(
      z
        .array(z.string().regex(/^[^:\s]+:\d+$/, 'each broker must be host:port'))
        .min(1, 'name at least one broker'),
    ),
  kafkaClientId: name,
  /** Most bytes one fetched record batch may decompress to; a batch over it is dead-lettered. */
  kafkaMaxBatchBytes: z.coerce
    .number()
    .int()
    .min(1_048_576, 'must be at least 1048576 (1 MiB, a broker batch uncompressed)')
    .max(2 ** 31 - 1, 'must be under 2 GiB'),
  /**
   * How long a consumer group waits for a member that stopped heartbeating (killed, frozen) before
   * it hands that member's partitions to the others: the failover time after a kill -9. Members
   * heartbeat a third of it apart, also during a long restore, so a live one is not dropped.
   */
  kafkaSessionTimeout: duration('10s').pipe(
    z
      .number()
      .min(6000, "must be at least 6s (the broker's group.min.session.timeout.ms)")
      .max(300_000, 'must be at most 5m (a dead member would hold its partitions that long)'),
  ),
  topicPrefix: name,
  topicPartitions: z.coerce.number().int().min(1, 'must be at least 1').max(1000),
  groupPrefix: name,
  temporalAddress: z.string().regex(/^[^:\s]+:\d+$/, 'must be host:port'),
  temporalNamespace: name,
  actTaskQueue: name,
  verifyTaskQueue: name,
  /**
   * Task queue of the guard requests (a remediation asking its entity guard and the action budget),
   * served by a worker of their own in each act process, so a backlog of actions never delays them.
   * Empty (the default): "<AUTOGLM_ACT_TASK_QUEUE>-guards" (`guardTaskQueueOf`).
   */
  guardTaskQueue: z.union([z.literal(''), name]),
  /** Guard requests the act process runs at once (each a quick signal-with-start). */
  guardSlots: z.coerce.number().int().min(1, 'must be at least 1').max(1000),
  rulesDir: z.string().min(1),
  /** The runbooks folder decide retrieves sections from for each decision ('' for none). */
  runbooksDir: z.string(),
  /** How many runbook sections a decision carries, best first (0: none). */
  runbookHits: z.coerce.number().int().min(0, 'must be 0 or more').max(10, 'must be at most 10'),
  /** The intent model of `autoglm rules draft` (models/intent). */
  intentModelDir: z.string().min(1),
  /** Below this top-intent probability `rules draft` asks which action, rather than taking it. */
  draftMinIntentConfidence: z.coerce.number().min(0, 'must be 0 to 1').max(1, 'must be 0 to 1'),
  /** The longest sentence `rules draft` reads: one policy per sentence. */
  draftMaxSentenceChars: z.coerce
    .number()
    .int()
    .min(20, 'must be at least 20')
    .max(100_000, 'must be at most 100000'),
  window: duration('30s'),
  emitEvery: duration('5s'),
  maxClockSkew: duration('5m'),
  maxAbsValue: z.coerce.number().positive('must be a positive number such as 1e12').max(1e300),
  maxMetricsPerEntity: z.coerce.number().int().min(1, 'must be at least 1').max(10_000),
  /** Largest observation sense builds, in bytes of JSON; decide refuses values over MAX_MESSAGE_BYTES. */
  maxObservationBytes: z.coerce
    .number()
    .int()
    .min(4096, 'must be at least 4096 (room for a few metrics and events)')
    .max(MAX_MESSAGE_BYTES, `must be at most ${MAX_MESSAGE_BYTES}, the largest observation decide accepts`),
  maxEntities: z.coerce.number().int().min(1, 'must be at least 1').max(10_000_000),
  dlqMaxValueBytes: z.coerce
    .number()
    .int()
    .min(0)
    .max(262_144, 'must be at most 256 KiB (the broker limit is ~1 MB)'),
  httpActuatorUrl: z.string().url('must be an http(s) URL'),
  httpActuatorTimeout: duration('5s'),
  httpAllowedOrigins: z.string().transform((s) =>
    s
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean),
  ),
  httpHeadersFile: z.string(),
  actuatorHmacKeyFile: z.string(),
  actuatorMaxResponseBytes: z.coerce.number().int().min(0).max(1_048_576, 'must be at most 1 MiB'),
  commandDir: z.string(),
  commandTimeout: duration('30s'),
  /** `uid:gid` the command actuator's scripts run as (another user cannot read the worker's /proc); '' runs them as the worker. */
  commandUser: z
    .string()
    .regex(
      /^(?:\d{1,10}:\d{1,10})?$/,
      "must be numeric uid:gid such as 65534:65534, or empty for this process's user",
    ),
  /** Alertmanager whose alerts of an entity are silenced while it is remediated ('' = no silences). */
  alertmanagerUrl: z
    .string()
    .regex(/^(?:https?:\/\/\S+)?$/, 'must be an http(s) URL, or empty for no silences'),
  /** How long a silence lasts unless the remediation is verified first (then it is expired at once). */
  alertmanagerSilenceFor: duration('1h'),
  /** PagerDuty's Events API v2 endpoint (or a stand-in) escalations are sent to ('' = none). */
  pagerdutyUrl: z.string().regex(/^(?:https?:\/\/\S+)?$/, 'must be an http(s) URL, or empty for no paging'),
  /** File holding the PagerDuty routing key (integration key); never logged. */
  pagerdutyRoutingKeyFile: z.string(),
  /** The Temporal Web UI's address, for links to a remediation (a silence's comment); '' = none. */
  temporalUiUrl: z.string().regex(/^(?:https?:\/\/\S+)?$/, 'must be an http(s) URL, or empty'),
  maxDecisionAge: duration('3m'),
  approvalTimeout: duration('30m'),
  /** Longest `by` of an approval answer (characters, trimmed); a new remediation carries it in its settings. */
  approvalMaxByChars: z.coerce.number().int().min(1, 'must be at least 1').max(512, 'must be at most 512'),
  /** Longest `reason` of an approval answer; bounded so a verdict stays far below Kafka's 1 MB. */
  approvalMaxReasonChars: z.coerce
    .number()
    .int()
    .min(1, 'must be at least 1')
    .max(16_384, 'must be at most 16384 (the verdict carries it over Kafka)'),
  /** Refused approval attempts a remediation keeps in its status and verdict (all are counted). */
  approvalMaxRefusedKept: z.coerce.number().int().min(0, 'must be 0 or more').max(100, 'must be at most 100'),
  /** JSON file of who may answer approvals and their keys (services/common/approvers.ts); '' checks nobody. */
  approversFile: z.string(),
  /** How old a signed answer's proof may be when it reaches the remediation. */
  approvalProofMaxAge: duration('5m').refine(
    (ms) => ms > 0 && ms <= 3_600_000,
    'must be longer than 0 and at most 1h, such as "5m"',
  ),
  /** The approver's own signing key (HMAC secret or Ed25519 private key) `autoglm approve|reject` signs with. */
  approverKeyFile: z.string(),
  maxConcurrentPerAction: z.coerce.number().int().min(1, 'must be at least 1').max(10_000),
  maxConcurrentPerRule: z.coerce.number().int().min(1, 'must be at least 1').max(10_000),
  maxActionsPerPeriod: z.coerce.number().int().min(1, 'must be at least 1').max(1_000_000),
  actionsPeriod: duration('10m'),
  maxDeferred: z.coerce.number().int().min(0).max(10_000),
  /**
   * How long an urgent grant holds less urgent lanes back while its action is on its way to the
   * target (until its remediation reports it acted); bounds the wait when that remediation is lost.
   * "0s": no hold (grants go in lane order, but a later routine grant may reach the target first).
   */
  laneHold: duration('60s').refine(
    (ms) => ms <= 3_600_000,
    'must be at most 1h, such as "60s" (or "0s": no hold)',
  ),
  startTimeout: duration('10s'),
  maxStartFailures: z.coerce.number().int().min(1, 'must be at least 1').max(1000),
  decideStartConcurrency: z.coerce.number().int().min(1, 'must be at least 1').max(1024),
  /** How often decide looks for changed rule and context files; "0s" turns hot reload off. */
  rulesReloadInterval: duration('2s'),
  /** Most (entity, rule) episodes decide keeps; beyond it the least recently seen is ended and forgotten. */
  episodeMaxTracked: z.coerce.number().int().min(1, 'must be at least 1').max(10_000_000),
  /** An episode whose entity sent no observation for this long in event time (or its keepFiringFor, if longer) is over. */
  episodeIdle: duration('1h'),
  /** Longest the read-back of one episode changelog partition may take. */
  episodeRestoreTimeout: duration('2m'),
  verifyMaxObservationsPerEntity: z.coerce.number().int().min(1, 'must be at least 1').max(100_000),
  verifyReadBackMaxMessages: z.coerce.number().int().min(0).max(1_000_000_000),
  verifyReadBackTimeout: duration('60s'),
  verifyReadBackConcurrency: z.coerce.number().int().min(1, 'must be at least 1').max(64),
  /** How long a verdict may fail to publish before the act worker's /readyz turns false. */
  verdictPublishAlarm: duration('2m'),
  /** Per entity and metric baselines in sense (`<metric>.baseline|deviation|anomaly` facts); "off" turns them off. */
  baseline: z.enum(['on', 'off'], 'must be "on" or "off"'),
  /** Half-life of a baseline's level and spread, in event time. */
  baselineHalfLife: duration('3h'),
  /** Samples of a metric before its baseline facts are given. */
  baselineWarmupSamples: z.coerce.number().int().min(2, 'must be at least 2').max(1_000_000),
  /** How long a new baseline learns everything before it freezes on high deviations (a daily pattern's peaks). */
  baselineLearn: duration('2d'),
  /** How long a one-sided high deviation lasts before it is the new normal. */
  baselineAdaptAfter: duration('3h'),
  baselineFreezeDeviation: z.coerce
    .number()
    .positive('must be a positive number of deviations such as 4')
    .max(1000),
  baselineAnomalyDeviation: z.coerce
    .number()
    .positive('must be a positive number of deviations such as 4.5')
    .max(1000),
  baselineSeasonality: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p && p !== 'off'),
    )
    .pipe(z.array(z.enum(['daily', 'weekly'], 'list "daily", "weekly" or "off", comma-separated'))),
  baselineMaxStates: z.coerce.number().int().min(1, 'must be at least 1').max(50_000_000),
  /** Smallest baseline spread per metric, in its own unit: `cpu=0.3,latency_ms=5` ("off": none). */
  baselineMinSpread: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p && p !== 'off'),
    )
    .pipe(
      z.array(
        z
          .string()
          .regex(
            /^[a-z][a-z0-9_]*=(\d+(\.\d+)?|\.\d+)$/,
            'list metric=spread pairs, comma-separated, such as "cpu=0.3" (or "off")',
          ),
      ),
    )
    .transform((pairs) => Object.fromEntries(pairs.map((p) => [p.split('=')[0]!, Number(p.split('=')[1])]))),
  /**
   * How rare, by a metric's own excursions, a sample must be to score the anomaly deviation (the
   * baselines' tail model; "off" or 0: deviations in the spread alone).
   */
  baselineTailRisk: z
    .string()
    .transform((s) => (s.trim() === 'off' ? 0 : Number(s)))
    .pipe(
      z
        .number('must be a number such as 0.006 (or "off")')
        .min(0, 'must be 0 or more, such as 0.006 (or "off")')
        .max(0.5, 'must be at most 0.5, such as 0.006'),
    ),
  /** Half-life of the rate of a baseline's excursions (the tail model), in event time. */
  baselineTailHalfLife: duration('2d'),
  /**
   * Which largest of a baseline's recent excursion peaks an excursion must pass to be novel, on a
   * metric whose excursions are common (the tail model widens its spread): 4, an excursion no
   * larger than the fourth largest recent one scores at most the peak deviation ("off" or 0: not used).
   */
  baselineTailPeakRank: z
    .string()
    .transform((s) => (s.trim() === 'off' ? 0 : Number(s)))
    .pipe(
      z
        .number('must be a whole number from 0 to 4, such as 4 (or "off")')
        .int('must be a whole number from 0 to 4, such as 4 (or "off")')
        .min(0, 'must be a whole number from 0 to 4, such as 4 (or "off")')
        .max(4, 'must be at most 4 (the peaks a baseline remembers), such as 4'),
    ),
  /** Half-life of the recent excursion peaks a baseline remembers, in event time. */
  baselineTailPeakHalfLife: duration('2d'),
  /**
   * The most an excursion as large as that recent peak scores, in deviations: below the anomaly
   * deviation (4.5), so a repeat of the recent excursions is not an anomaly.
   */
  baselineTailPeakDeviation: z.coerce
    .number('must be a number of deviations such as 3')
    .positive('must be a positive number of deviations such as 3')
    .max(1000),
  /** Half-life of the slow reference a baseline's `drift` fact is measured from, in event time; drift is 0 until a baseline is this old. */
  baselineDriftHalfLife: duration('7d'),
  /** A baseline whose entity sent nothing for this long in event time is forgotten (and deleted from the changelog). */
  baselineIdle: duration('14d'),
  /** Longest the read-back of one changelog partition may take before its rest warms up again. */
  baselineRestoreTimeout: duration('2m'),
  /**
   * Longest sense holds a metrics partition's samples back while its co-partitioned events partition
   * is read behind them (the event-time join); then it goes on without the events. 0: no hold.
   */
  senseEventsWait: duration('30s').refine(
    (ms) => ms <= 600_000,
    'must be at most 10m, such as "30s" (or "0s": no hold)',
  ),
  /**
   * How far back (event time) a new owner of an events partition replays its events, after a
   * restart or a rebalance: the entity's last deploy (`deploy.ageSeconds`) is known again up to
   * this age (the rollback rules read up to 10m). Never less than the windows' own rebuild span.
   */
  senseEventsReplay: duration('15m').refine(
    (ms) => ms <= 86_400_000,
    'must be at most 24h, such as "15m" (a replay reads that much of the events topic again)',
  ),
  /** The incident classifier's folder (model.onnx, model.json, card); "off" runs decide rules-only. */
  modelDir: z.string().min(1, 'name the model folder, or "off" for rules-only'),
  /** Port of ingest's HTTP server (remote-write, OTLP, CloudEvents, …); 0 picks a free one. */
  ingestPort: port,
  /** Address ingest listens on: 0.0.0.0 to take writes from other hosts (then keep AUTOGLM_INGEST_AUTH=tokens). */
  ingestHost: z.string().regex(/^[0-9A-Fa-f.:]+$/, 'must be an IP address such as 127.0.0.1 or 0.0.0.0'),
  /** `tokens`: every request needs a bearer token from `<source>.tokens`; `none` only on a loopback address. */
  ingestAuth: z.enum(['tokens', 'none'], 'must be "tokens" or "none"'),
  /** Folder of `<source>.tokens` files, one bearer token a line; a source without its file refuses every request. */
  ingestTokensDir: z.string(),
  /** Folder of `<source>.json` mapping files (entity template, metric names); a source without one uses its default. */
  ingestMappingsDir: z.string(),
  /** Largest request body as sent (compressed); a bigger one is refused with 413. */
  ingestMaxBodyBytes: z.coerce
    .number()
    .int()
    .min(1024, 'must be at least 1024')
    .max(256 * 1024 * 1024),
  /** Largest request body once decompressed (gzip, snappy): a small bomb is refused with 413. */
  ingestMaxDecodedBytes: z.coerce
    .number()
    .int()
    .min(1024, 'must be at least 1024')
    .max(1024 * 1024 * 1024),
  /** Most decoded bytes of requests waiting for Kafka at once; beyond it ingest answers 503 with Retry-After. */
  ingestMaxPendingBytes: z.coerce
    .number()
    .int()
    .min(1024, 'must be at least 1024')
    .max(8 * 1024 * 1024 * 1024),
  /** Requests per second each source may send (a token bucket of AUTOGLM_INGEST_BURST); beyond it 429. */
  ingestRate: z.coerce.number().positive('must be a positive number of requests per second').max(1_000_000),
  ingestBurst: z.coerce.number().int().min(1, 'must be at least 1').max(10_000_000),
  /** Longest a request waits for Kafka's acknowledgement (acks=all) before it is answered 503. */
  ingestKafkaTimeout: duration('10s'),
  /** Transactional producers ingest writes with at once (each has one transaction open at a time). */
  ingestProducers: z.coerce.number().int().min(1, 'must be at least 1').max(64),
  /** The Retry-After of a 503 (Kafka slow or down, too much pending) and of a 429. */
  ingestRetryAfter: duration('5s'),
  opsPort: port,
  /** Address the ops server (/healthz, /readyz, /metrics) listens on: 0.0.0.0 in a container, so kubelet's probes and Prometheus reach it. */
  opsHost: z.string().regex(/^[0-9A-Fa-f.:]+$/, 'must be an IP address such as 127.0.0.1 or 0.0.0.0'),
  /** Port of `autoglm up`'s console; on AUTOGLM_OPS_PORT, `up`'s ops server serves it (on AUTOGLM_CONSOLE_HOST) beside /healthz and /metrics; 0 picks a free one. */
  consolePort: port,
  /** Address the console listens on (127.0.0.1: this machine only). */
  consoleHost: z.string().regex(/^[0-9A-Fa-f.:]+$/, 'must be an IP address such as 127.0.0.1'),
  /** File holding the token an approval from the console must carry; '' = the console is read-only. */
  consoleTokenFile: z.string(),
  /** How far back the console keeps each entity's metrics, markers and rule counts. */
  consoleRange: duration('6h'),
  /** Points per entity and metric over the range (a point is range/points wide: the most deviant sample in it). */
  consolePoints: z.coerce.number().int().min(10, 'must be at least 10').max(10_000, 'must be at most 10000'),
  /** Entities whose metrics the console keeps; beyond it the least recently seen is forgotten. */
  consoleMaxEntities: z.coerce.number().int().min(1, 'must be at least 1').max(1_000_000),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
});

/** Every environment variable loadConfig reads, so deployment files can be checked against it. */
export const CONFIG_ENV_NAMES: readonly string[] = Object.freeze(
  Object.values(ENV).map(([envName]) => envName),
);

/** The parsed, frozen configuration every service's main.ts receives. Durations are milliseconds. */
export type Config = Readonly<z.infer<typeof schema>> & {
  /** How clients reach Kafka (KAFKA_SECURITY_PROTOCOL, …): file paths, never secrets. */
  readonly kafkaSecurity: KafkaSecurity;
  /** How clients reach Temporal (TEMPORAL_TLS_*, TEMPORAL_API_KEY_FILE): file paths, never secrets. */
  readonly temporalSecurity: TemporalSecurity;
};

/** What the environment's settings came to: every setting that parsed, and every problem. */
export interface EnvSettings<K extends string, T> {
  /** Each setting's text as read (override, environment or default). */
  readonly raw: Record<K, string>;
  /** Each setting that parsed; a refused one is absent, its problem in `problems`. */
  readonly valid: Partial<T>;
  /** Every setting whose value is refused, named by its environment variable with the value and the fix. */
  readonly problems: string[];
  /** All the settings, when none is refused. */
  readonly data: T | undefined;
}

/**
 * Reads settings described by `spec` (key → [environment variable, default]) from `overrides`,
 * then `env`, then the defaults, and parses each with its field of `schema` on its own, so every
 * refused setting is listed at once while the others still parse (for checks across settings,
 * run with `whenValid` on the settings they read). Secrets in values are not echoed.
 */
export function readEnvSettings<S extends z.ZodObject, K extends keyof S['shape'] & string>(
  spec: Readonly<Record<K, readonly [string, string]>> & Readonly<Record<keyof S['shape'], unknown>>,
  schema: S,
  env: NodeJS.ProcessEnv,
  overrides: Partial<Record<K, string>>,
): EnvSettings<K, z.infer<S>> {
  const keys = Object.keys(spec) as K[];
  const raw = Object.fromEntries(
    keys.map((key) => [key, overrides[key] ?? (env[spec[key][0]] || undefined) ?? spec[key][1]]),
  ) as Record<K, string>;
  const valid: Record<string, unknown> = {};
  const problems: string[] = [];
  const fields = schema.shape as Record<string, z.ZodType>;
  for (const key of keys) {
    const field = fields[key];
    if (!field) throw new Error(`${spec[key][0]} has no field "${key}" in its schema`);
    const parsed = field.safeParse(raw[key], { error: wordingOf(spec[key][1]) });
    if (parsed.success) valid[key] = parsed.data;
    else
      for (const issue of parsed.error.issues)
        problems.push(`${spec[key][0]}=${redactCredentials(JSON.stringify(raw[key]))}: ${issue.message}`);
  }
  const data = problems.length === 0 ? (valid as z.infer<S>) : undefined;
  return { raw, valid: valid as Partial<z.infer<S>>, problems, data };
}

/**
 * Runs a check across settings only when every setting it reads parsed: a refused setting is
 * listed once, for its own value, not again for each check it cannot be compared in.
 */
export function whenValid<T, P extends keyof T>(
  valid: Partial<T>,
  keys: readonly P[],
  check: (settings: Pick<T, P>) => string | undefined,
): string[] {
  if (!keys.every((key) => valid[key] !== undefined)) return [];
  const problem = check(valid as Pick<T, P>);
  return problem === undefined ? [] : [problem];
}

/** What a number schema says of its bounds (zod's ZodNumber). */
type NumberBounds = { isInt?: boolean; minValue?: number | null; maxValue?: number | null };

/** Zod's own wording, where a setting's schema gives none, said as the fix (`fallback`: its default). */
function wordingOf(fallback: string): z.core.$ZodErrorMap {
  return (issue) => {
    switch (issue.code) {
      case 'invalid_type': {
        if (issue.expected !== 'number' && issue.expected !== 'int') return undefined;
        // A whole number's bounds are inclusive (.int().min().max()); a fractional one's may not be.
        const { isInt, minValue, maxValue } = (issue.inst ?? {}) as NumberBounds;
        const whole = isInt || issue.expected === 'int';
        const range =
          whole && Number.isSafeInteger(minValue) && Number.isSafeInteger(maxValue)
            ? ` from ${minValue} to ${maxValue}`
            : '';
        return `must be a ${whole ? 'whole ' : ''}number${range}, such as ${fallback}`;
      }
      case 'too_small':
        if (issue.origin === 'string' && Number(issue.minimum) === 1) return 'must not be empty';
        return issue.origin === 'number'
          ? `must be ${issue.inclusive ? 'at least' : 'more than'} ${issue.minimum}`
          : undefined;
      case 'too_big':
        return issue.origin === 'number'
          ? `must be ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}`
          : undefined;
      case 'invalid_value':
        return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
      default:
        return undefined;
    }
  };
}

/**
 * Reads the configuration from environment variables (`overrides` win, for tests and `autoglm up`).
 * Throws one ConfigError listing every problem, each named by its environment variable: the
 * settings refused on their own, then the checks across settings that all parsed, then the
 * connections' security.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<Record<keyof typeof ENV, string>> = {},
): Config {
  const kafkaSecurity = parseKafkaSecurity(env);
  const temporalSecurity = parseTemporalSecurity(env);
  const { raw, valid, problems, data } = readEnvSettings(ENV, schema, env, overrides);
  problems.push(
    ...whenValid(valid, ['emitEvery', 'window'], (c) =>
      c.emitEvery > c.window
        ? `AUTOGLM_EMIT_EVERY must not exceed AUTOGLM_WINDOW (${raw.emitEvery} > ${raw.window}): shorten AUTOGLM_EMIT_EVERY or lengthen AUTOGLM_WINDOW`
        : undefined,
    ),
  );
  for (const key of [
    'baselineHalfLife',
    'baselineAdaptAfter',
    'baselineTailHalfLife',
    'baselineTailPeakHalfLife',
    'baselineDriftHalfLife',
    'baselineIdle',
    'baselineRestoreTimeout',
    'episodeIdle',
    'episodeRestoreTimeout',
    'ingestKafkaTimeout',
    'consoleRange',
  ] as const) {
    problems.push(
      ...whenValid(valid, [key], (c) =>
        c[key] <= 0
          ? `${ENV[key][0]} must be longer than 0 (got ${raw[key]}), such as "${ENV[key][1]}"`
          : undefined,
      ),
    );
  }
  problems.push(
    ...whenValid(valid, ['ingestAuth', 'ingestHost'], (c) =>
      c.ingestAuth === 'none' && !isLoopback(c.ingestHost)
        ? `AUTOGLM_INGEST_AUTH=none is only allowed on a loopback AUTOGLM_INGEST_HOST (got ${raw.ingestHost}): set AUTOGLM_INGEST_AUTH=tokens and AUTOGLM_INGEST_TOKENS_DIR`
        : undefined,
    ),
    ...whenValid(valid, ['ingestMaxDecodedBytes', 'ingestMaxBodyBytes'], (c) =>
      c.ingestMaxDecodedBytes < c.ingestMaxBodyBytes
        ? `AUTOGLM_INGEST_MAX_DECODED_BYTES must be at least AUTOGLM_INGEST_MAX_BODY_BYTES (${raw.ingestMaxDecodedBytes} < ${raw.ingestMaxBodyBytes}): raise the first or lower the second`
        : undefined,
    ),
  );
  const origins = allowedOrigins(valid, problems);
  // The outlets call only allowlisted origins, as the http actuator does.
  for (const [key, name] of [
    ['alertmanagerUrl', 'AUTOGLM_ALERTMANAGER_URL'],
    ['pagerdutyUrl', 'AUTOGLM_PAGERDUTY_URL'],
  ] as const) {
    const url = valid[key];
    const why = url && origins && checkHttpUrl(url, origins);
    if (why) problems.push(`${name}: ${why}`);
  }
  problems.push(
    ...whenValid(valid, ['pagerdutyUrl', 'pagerdutyRoutingKeyFile'], (c) =>
      c.pagerdutyUrl && !c.pagerdutyRoutingKeyFile
        ? 'AUTOGLM_PAGERDUTY_URL is set: name the file with its routing key in AUTOGLM_PAGERDUTY_ROUTING_KEY_FILE'
        : undefined,
    ),
  );
  problems.push(...kafkaSecurity.problems, ...temporalSecurity.problems);
  if (problems.length > 0 || !data || !origins) throw new ConfigError(problems);
  return Object.freeze({
    ...data,
    kafkaSecurity: kafkaSecurity.security,
    temporalSecurity: temporalSecurity.security,
    kafkaBrokers: Object.freeze([...data.kafkaBrokers]),
    httpAllowedOrigins: Object.freeze(origins),
  }) as Config;
}

/**
 * The origins the http actuator may call, with the actuator URL checked against them (its
 * problems and the allowlist's are added to `problems`); undefined when they cannot be settled.
 * No allowlist given: the actuator URL's own origin is the only one, and a URL refused on its
 * own is not reported again here.
 */
function allowedOrigins(valid: Partial<z.infer<typeof schema>>, problems: string[]): string[] | undefined {
  const listed = valid.httpAllowedOrigins ?? [];
  const url = valid.httpActuatorUrl;
  let allowed: string[];
  if (listed.length > 0) {
    const parsed = parseAllowedOrigins(listed);
    problems.push(...parsed.problems);
    if (parsed.problems.length > 0) return undefined;
    allowed = parsed.origins;
  } else if (url !== undefined) {
    // A URL whose own origin is refused (ftp:) is said of the URL below, not of an allowlist not given.
    allowed = parseAllowedOrigins([originOf(url)]).origins;
  } else return undefined;
  const refused = url !== undefined && checkHttpUrl(url, allowed);
  if (refused) problems.push(`AUTOGLM_HTTP_ACTUATOR_URL: ${refused}`);
  return allowed;
}

/** 127.0.0.0/8 and ::1: an address only this machine reaches. */
function isLoopback(ip: string): boolean {
  return ip === '::1' || /^127\.\d+\.\d+\.\d+$/.test(ip);
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/** The guard requests' task queue: AUTOGLM_GUARD_TASK_QUEUE, else the act task queue's name + "-guards". */
export function guardTaskQueueOf(config: Pick<Config, 'actTaskQueue' | 'guardTaskQueue'>): string {
  return config.guardTaskQueue || `${config.actTaskQueue}-guards`;
}

/** Topic names derived from the prefix (`autoglm.metrics`, …). */
/** The last part of the baseline changelog's name; ensureTopics creates it compacted. */
export const BASELINE_CHANGELOG = 'sense-baselines';
/** The last part of decide's episode changelog's name; ensureTopics creates it compacted. */
export const EPISODE_CHANGELOG = 'decide-episodes';

export function topicNames(config: Pick<Config, 'topicPrefix'>) {
  const p = config.topicPrefix;
  return Object.freeze({
    metrics: `${p}.metrics`,
    events: `${p}.events`,
    observations: `${p}.observations`,
    decisions: `${p}.decisions`,
    verdicts: `${p}.verdicts`,
    dlq: `${p}.dlq`,
    /** Sense's baseline changelog: compacted, keyed by entity and metric, partitioned as the metrics. */
    baselines: `${p}.${BASELINE_CHANGELOG}`,
    /** Decide's episode changelog: compacted, keyed by entity and rule, partitioned as the observations. */
    episodes: `${p}.${EPISODE_CHANGELOG}`,
  });
}
export type TopicNames = ReturnType<typeof topicNames>;
