/**
 * The fleet simulator's own settings (AUTOGLM_FLEET_*), parsed once at start into a frozen object;
 * every problem is listed in one ConfigError. Kafka, topics and the HMAC key file come from the
 * common configuration (services/common/config.ts), as for every other service.
 */
import fs from 'node:fs';
import { z } from 'zod';
import { hmacKeyOf } from '../actuators/from-config.js';
import { ConfigError, readEnvSettings, whenValid } from '../common/config.js';
import { parseDuration } from '../common/duration.js';
import type { MixEntry } from './fleet-model.js';
import { EVENT_WORDINGS } from './event-wording.js';
import { FLEET_SCENARIO_CLASSES, type FleetScenarioClass } from './fleet-types.js';
import { parseMetricSet, type MetricSet } from './metric-set.js';

/** Each setting, the environment variable it comes from, and its default. */
const ENV = {
  services: ['AUTOGLM_FLEET_SERVICES', '5'],
  pods: ['AUTOGLM_FLEET_PODS', '2'],
  tick: ['AUTOGLM_FLEET_TICK', '1s'],
  scenarios: ['AUTOGLM_FLEET_SCENARIOS', FLEET_SCENARIO_CLASSES.join(',')],
  scenarioEvery: ['AUTOGLM_FLEET_SCENARIO_EVERY', '2m'],
  maxActive: ['AUTOGLM_FLEET_MAX_ACTIVE', '3'],
  recovery: ['AUTOGLM_FLEET_RECOVERY', '20s'],
  incidentTimeout: ['AUTOGLM_FLEET_INCIDENT_TIMEOUT', '15m'],
  noisyFor: ['AUTOGLM_FLEET_NOISY_FOR', '5m'],
  seed: ['AUTOGLM_FLEET_SEED', '1'],
  port: ['AUTOGLM_FLEET_PORT', '8090'],
  allowUnsigned: ['AUTOGLM_FLEET_ALLOW_UNSIGNED', 'false'],
  signatureWindow: ['AUTOGLM_FLEET_SIGNATURE_WINDOW', '5m'],
  seenSignatures: ['AUTOGLM_FLEET_SEEN_SIGNATURES', '10000'],
  /**
   * `kafka`: samples (and simulated alerts) go to the metrics and events topics; `scrape`: samples
   * only on `GET /metrics` and no simulated alerts, for a Prometheus and Alertmanager to feed the loop.
   */
  samples: ['AUTOGLM_FLEET_SAMPLES', 'kafka'],
  /**
   * With a schedule: follow the loop's decisions and verdicts and Temporal's remediations, so that
   * incidents the loop will not act on (shadow, awaiting approval, absorbed) hold no slot and the
   * schedule avoids where the loop would not act (services/fleet/loop-feedback.ts).
   */
  followLoop: ['AUTOGLM_FLEET_FOLLOW_LOOP', 'true'],
  /** How far back a remediation keeps the scenario it fixes off the entity (the starter rules' longest episode). */
  avoidRecent: ['AUTOGLM_FLEET_AVOID_RECENT', '8h'],
  /** How often Temporal's remediations are read for that. */
  loopPoll: ['AUTOGLM_FLEET_LOOP_POLL', '10s'],
  /**
   * Another fleet's metric set (services/fleet/metric-set.ts): metrics it does not report
   * (`upstream_errors,restarts`), names it reports some under (`errors=http_5xx_rate`) and units
   * (`latency=0.001`: seconds). Applied to the samples on the metrics topic; a scrape only drops.
   */
  dropMetrics: ['AUTOGLM_FLEET_DROP_METRICS', ''],
  renameMetrics: ['AUTOGLM_FLEET_RENAME_METRICS', ''],
  metricScale: ['AUTOGLM_FLEET_METRIC_SCALE', ''],
  /** `ours`, or `other`: events worded as another fleet's software words them (event-wording.ts). */
  eventWording: ['AUTOGLM_FLEET_EVENT_WORDING', 'ours'],
} as const;

/** Most entities one simulator runs (services × pods): beyond it a tick is no longer cheap. */
export const MAX_FLEET_ENTITIES = 2000;

const duration = (example: string, min: number, max: number, off = false) =>
  z.string().transform((s, ctx) => {
    if (off && s.trim() === 'off') return 0;
    const ms = parseDuration(s);
    const hint = off ? ` or "off"` : '';
    if (ms === undefined)
      ctx.addIssue({ code: 'custom', message: `must be a duration such as "${example}"${hint}` });
    else if (ms < min || ms > max)
      ctx.addIssue({ code: 'custom', message: `must be between ${fmt(min)} and ${fmt(max)}${hint}` });
    return ms ?? 0;
  });
const fmt = (ms: number) =>
  ms === 0 ? '0s' : ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
const whole = (min: number, max: number) =>
  z.coerce
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);

/** `class[:weight],…`, or `none` for no schedule; a class named twice is refused. */
const mix = z.string().transform((s, ctx): MixEntry[] => {
  if (s.trim() === 'none') return [];
  const entries: MixEntry[] = [];
  for (const part of s.split(',').map((p) => p.trim())) {
    const [name = '', weightText, extra] = part.split(':').map((p) => p.trim());
    const weight = weightText === undefined ? 1 : Number(weightText);
    if (!FLEET_SCENARIO_CLASSES.includes(name as FleetScenarioClass))
      ctx.addIssue({
        code: 'custom',
        message: `"${part}": name a class among ${FLEET_SCENARIO_CLASSES.join(', ')}, optionally with a weight (cpu_saturation:2), or "none"`,
      });
    else if (extra !== undefined || !(weight > 0) || !Number.isFinite(weight))
      ctx.addIssue({ code: 'custom', message: `"${part}": the weight must be a number > 0` });
    else if (entries.some((e) => e.class === name))
      ctx.addIssue({ code: 'custom', message: `"${name}" is named twice; give it a weight instead` });
    else entries.push({ class: name as FleetScenarioClass, weight });
  }
  return entries;
});

const schema = z.object({
  services: whole(1, 100),
  pods: whole(1, 50),
  tick: duration('1s', 100, 60_000),
  scenarios: mix,
  scenarioEvery: duration('2m', 1000, 86_400_000, true),
  maxActive: whole(1, 1000),
  recovery: duration('20s', 0, 600_000),
  incidentTimeout: duration('15m', 10_000, 86_400_000),
  noisyFor: duration('5m', 10_000, 86_400_000),
  seed: whole(0, 4_294_967_295),
  port: whole(0, 65_535),
  allowUnsigned: z.enum(['true', 'false'], { error: 'must be true or false' }).transform((v) => v === 'true'),
  signatureWindow: duration('5m', 1000, 3_600_000),
  seenSignatures: whole(100, 10_000_000),
  followLoop: z.enum(['true', 'false'], { error: 'must be true or false' }).transform((v) => v === 'true'),
  avoidRecent: duration('8h', 0, 7 * 86_400_000, true),
  loopPoll: duration('10s', 1000, 600_000),
  dropMetrics: z.string(),
  renameMetrics: z.string(),
  metricScale: z.string(),
  eventWording: z.enum(EVENT_WORDINGS, {
    error: 'must be "ours" or "other" (events worded as another fleet does)',
  }),
  samples: z.enum(['kafka', 'scrape'], {
    error:
      'must be "kafka" (samples to the metrics topic) or "scrape" (only on GET /metrics, for Prometheus)',
  }),
});

/** The fleet's settings; durations are milliseconds, `scenarioEvery` 0 means on demand only. */
export type FleetConfig = Readonly<
  Omit<z.infer<typeof schema>, 'scenarios' | 'dropMetrics' | 'renameMetrics' | 'metricScale'> & {
    scenarios: readonly MixEntry[];
    /** The metric set the fleet reports (every metric, our names and units by default). */
    metricSet: MetricSet;
  }
>;

/**
 * Reads the fleet's settings from environment variables (`overrides` win, for tests and the CLI).
 * Throws one ConfigError listing every problem, each named by its environment variable.
 */
export function loadFleetConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<Record<keyof typeof ENV, string>> = {},
): FleetConfig {
  const { raw, valid, problems, data } = readEnvSettings(ENV, schema, env, overrides);
  problems.push(
    ...whenValid(valid, ['services', 'pods'], (c) =>
      c.services * c.pods > MAX_FLEET_ENTITIES
        ? `AUTOGLM_FLEET_SERVICES × AUTOGLM_FLEET_PODS is ${c.services * c.pods}; at most ${MAX_FLEET_ENTITIES} entities: lower one of them`
        : undefined,
    ),
    ...whenValid(valid, ['scenarioEvery', 'tick'], (c) =>
      c.scenarioEvery > 0 && c.scenarioEvery < c.tick
        ? `AUTOGLM_FLEET_SCENARIO_EVERY (${raw.scenarioEvery}) must not be shorter than AUTOGLM_FLEET_TICK (${raw.tick}): lengthen it, or "off" for on demand only`
        : undefined,
    ),
  );
  // The metric set's own problems too, whatever else is refused (its three settings are plain text).
  const parsed = parseMetricSet(
    { drop: raw.dropMetrics, rename: raw.renameMetrics, scale: raw.metricScale },
    { drop: ENV.dropMetrics[0], rename: ENV.renameMetrics[0], scale: ENV.metricScale[0] },
  );
  if ('problems' in parsed) problems.push(...parsed.problems);
  if (problems.length > 0 || !data || !('set' in parsed)) throw new ConfigError(problems);
  const { dropMetrics, renameMetrics, metricScale, ...rest } = data;
  return Object.freeze({
    ...rest,
    scenarios: Object.freeze(data.scenarios.map((m) => Object.freeze(m))),
    metricSet: parsed.set,
  });
}

/**
 * The key the control API checks signatures with, from AUTOGLM_ACTUATOR_HMAC_KEY_FILE (the same
 * file the act step signs with; trimmed, at least 16 bytes); undefined when no file is named.
 */
export function readHmacKey(file: string): Buffer | undefined {
  if (!file) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([
      `AUTOGLM_ACTUATOR_HMAC_KEY_FILE=${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    ]);
  }
  const { key, problem } = hmacKeyOf(text, file);
  if (problem) throw new ConfigError([problem]);
  return key;
}
