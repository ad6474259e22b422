import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { localInfra } from '../infra/infra.js';
import { loadConfig, topicNames } from '../services/common/config.js';
import { parseDuration } from '../services/common/duration.js';
import { createKafka } from '../services/common/kafka.js';
import { stopOnSignals } from '../services/common/lifecycle.js';
import { createLogger } from '../services/common/logger.js';
import { startOpsServer } from '../services/common/ops-server.js';
import { exitOnFatal } from '../services/common/service.js';
import { TopicTap } from '../services/common/topic-tap.js';
import { redactUrl } from '../services/common/url-policy.js';
import { loadFleetConfig } from '../services/fleet/fleet-config.js';
import { startFleet, type RunningFleet } from '../services/fleet/main.js';
import { startIngest, type IngestService } from '../services/ingest/main.js';
import { startConsole } from '../services/console/main.js';
import { startLoop } from '../services/loop.js';
import { LoopView } from './loop-view.js';
import { UsageError } from './remediation-commands.js';

const FLEET_PORT = '8090';

/** The local fleet's HMAC key: made once under the autoglm home, readable by this user only. */
export function localHmacKeyFile(home: string): string {
  const file = path.join(home, 'secrets', 'actuator-hmac.key');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  }
  // One made earlier (or copied in) may be readable by others: made private again, as a new one is.
  fs.chmodSync(path.dirname(file), 0o700);
  fs.chmodSync(file, 0o600);
  return file;
}

export const UP_USAGE = `usage: autoglm up [--services 5] [--pods 2] [--scenarios <class[:weight],…>|none] [--every 45s] [--duration 10m] [--seed N] [--with prometheus]`;

/**
 * `autoglm up`: the local default. Brings the infra up, starts the fleet simulator (the target the
 * actuators call, signed with an HMAC key) with a scenario mix, runs sense, decide, act and verify
 * in this one process with one health/metrics endpoint, and shows the loop live: each incident
 * injected, sensed, decided (class, confidence, Temporal UI address), acted on and settled. Ctrl-C
 * or the end of `--duration` prints the scorecard. With AUTOGLM_HTTP_ACTUATOR_URL set, no fleet:
 * the loop acts on that target.
 */
export async function runUp(args: readonly string[] = []): Promise<void> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      services: { type: 'string' },
      pods: { type: 'string' },
      scenarios: { type: 'string' },
      every: { type: 'string', default: '45s' },
      duration: { type: 'string' },
      seed: { type: 'string' },
      with: { type: 'string' },
    },
  });
  if (values.with !== undefined && values.with !== 'prometheus')
    throw new UsageError(`--with: only "prometheus" can be added\n${UP_USAGE}`);
  // Prometheus scrapes the fleet and remote-writes to ingest; Alertmanager sends its alerts to ingest.
  const withPrometheus = values.with === 'prometheus';
  const durationMs = values.duration === undefined ? undefined : parseDuration(values.duration);
  if (durationMs === undefined && values.duration !== undefined)
    throw new UsageError(`--duration: "${values.duration}" is not a duration such as 10m\n${UP_USAGE}`);
  const infra = localInfra(process.env, { withPrometheus });
  const endpoints = await infra.up((line) => process.stderr.write(`infra: ${line}\n`));
  const ownFleet = !process.env.AUTOGLM_HTTP_ACTUATOR_URL;
  const fleetSettings = ownFleet
    ? loadFleetConfig(process.env, {
        port: process.env.AUTOGLM_FLEET_PORT ?? FLEET_PORT,
        scenarioEvery: values.every,
        // A new seed per run (printed; --seed repeats it): a restart does not replay the last schedule.
        seed: values.seed ?? process.env.AUTOGLM_FLEET_SEED ?? String(randomBytes(4).readUInt32BE(0)),
        ...(values.services ? { services: values.services } : {}),
        ...(values.pods ? { pods: values.pods } : {}),
        ...(values.scenarios ? { scenarios: values.scenarios } : {}),
        ...(withPrometheus ? { samples: 'scrape' } : {}),
      })
    : undefined;
  const hmacKeyFile =
    process.env.AUTOGLM_ACTUATOR_HMAC_KEY_FILE || (ownFleet ? localHmacKeyFile(infra.home) : '');
  const config = loadConfig(process.env, {
    kafkaBrokers: endpoints.kafkaBrokers,
    temporalAddress: endpoints.temporalAddress,
    actuatorHmacKeyFile: hmacKeyFile,
    ...(fleetSettings ? { httpActuatorUrl: `http://127.0.0.1:${fleetSettings.port}/actuate` } : {}),
    ...(endpoints.temporalUi ? { temporalUiUrl: endpoints.temporalUi } : {}),
    ...(withPrometheus && endpoints.alertmanagerUrl
      ? {
          ingestTokensDir: endpoints.ingestTokensDir,
          ingestMappingsDir: endpoints.ingestMappingsDir,
          alertmanagerUrl: endpoints.alertmanagerUrl,
          ...(fleetSettings
            ? { httpAllowedOrigins: `http://127.0.0.1:${fleetSettings.port},${endpoints.alertmanagerUrl}` }
            : {}),
        }
      : {}),
  });
  const tty = process.stdout.isTTY === true;
  // On a terminal the view speaks; the services log warnings only, pretty.
  const logger = createLogger(tty && config.logLevel === 'info' ? 'warn' : config.logLevel);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const ctx = { config, logger, registry, onFatal: exitOnFatal(logger) };
  const loop = await startLoop(ctx);
  // Ingest runs in every `up` (on AUTOGLM_INGEST_HOST:AUTOGLM_INGEST_PORT): remote-write, OTLP and
  // CloudEvents in; without AUTOGLM_INGEST_TOKENS_DIR it refuses every request (401, logged once).
  const ingest: IngestService | undefined = await startIngest(ctx);
  let fleet: RunningFleet | undefined;
  let view: LoopView | undefined;
  const taps: TopicTap[] = [];
  if (fleetSettings) {
    fleet = await startFleet(ctx, fleetSettings);
    const kafka = createKafka(config, logger);
    const topics = topicNames(config);
    for (const topic of [topics.observations, topics.decisions, topics.verdicts])
      taps.push(await new TopicTap(kafka, topic, logger).start());
    const model = fleet.model;
    view = new LoopView(
      {
        incidents: () => model.incidents(),
        actionsSince: (seq) => model.actionsSince(seq),
        observations: taps[0]!,
        decisions: taps[1]!,
        verdicts: taps[2]!,
      },
      {
        temporalUi: endpoints.temporalUi,
        namespace: config.temporalNamespace,
        tty,
        ...(tty ? { terminal: process.stdout } : {}),
        seed: fleetSettings.seed,
        logger: createLogger(config.logLevel),
        write: (line) => process.stdout.write(`${line}\n`),
      },
    ).start();
  }
  // The console: on the ops server's port by default (AUTOGLM_CONSOLE_PORT = AUTOGLM_OPS_PORT), else its own.
  const model = fleet?.model;
  const consoleApp = await startConsole(ctx, {
    ...(model
      ? { fleet: { incidents: () => model.incidents(), actionsSince: (s) => model.actionsSince(s) } }
      : {}),
    ...(endpoints.temporalUi ? { temporalUi: endpoints.temporalUi } : {}),
  });
  const consoleOnOps = config.consolePort === config.opsPort;
  const ops = await startOpsServer({
    port: config.opsPort,
    ...(consoleOnOps ? { host: config.consoleHost, extra: consoleApp.handler } : {}),
    registry,
    readiness: () => ({ ...loop.readiness(), ...(fleet?.readiness() ?? {}), ...(ingest?.readiness() ?? {}) }),
    liveness: () => ({ ...(loop.liveness?.() ?? {}), ...(fleet?.liveness?.() ?? {}) }),
  });
  const consolePort = consoleOnOps
    ? ops.port
    : await consoleApp.listen(config.consoleHost, config.consolePort);
  if (consoleOnOps) consoleApp.servedOn(ops.port);
  const banner = [
    `autoglm running: Temporal UI ${endpoints.temporalUi ?? '(external)'}, health and metrics on :${ops.port}`,
    `console http://${config.consoleHost}:${consolePort}/ (${config.consoleTokenFile ? 'approvals with the token of AUTOGLM_CONSOLE_TOKEN_FILE' : 'read-only: set AUTOGLM_CONSOLE_TOKEN_FILE to approve from it'})`,
    fleetSettings
      ? `fleet simulator: ${fleetSettings.services} services × ${fleetSettings.pods} pods, a scenario every ${values.every} after the baselines warm up (30 samples), seed ${fleetSettings.seed} (--seed ${fleetSettings.seed} repeats it), control API ${fleet?.controlOrigin}`
      : `acting on ${redactUrl(config.httpActuatorUrl)}; produce metrics to ${config.topicPrefix}.metrics`,
    ...(withPrometheus
      ? [
          `fed by Prometheus ${endpoints.prometheusUrl} (scraping the fleet, remote-writing to ingest :${ingest?.port}) and Alertmanager ${endpoints.alertmanagerUrl} (webhook to ingest; silences during remediations)`,
        ]
      : []),
    durationMs ? `stops after ${values.duration}` : 'Ctrl-C stops and prints the summary',
  ];
  if (tty) for (const line of banner) process.stdout.write(`${line}\n`);
  else
    logger.info(
      { temporalUi: endpoints.temporalUi, ops: ops.port, fleet: fleet?.controlOrigin },
      banner.join('; '),
    );
  const stoppable = {
    async stop() {
      view?.stop();
      if (view) for (const line of ['', ...view.summary()]) process.stdout.write(`${line}\n`);
      await fleet?.stop();
      await ingest?.stop();
      await loop.stop();
      for (const t of taps) await t.stop();
      await consoleApp.stop();
      await ops.close();
    },
  };
  stopOnSignals(stoppable, logger);
  if (durationMs !== undefined) setTimeout(() => process.kill(process.pid, 'SIGTERM'), durationMs).unref();
}
