import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { localInfra } from '../infra/infra.js';
import { loadConfig } from '../services/common/config.js';
import { stopOnSignals } from '../services/common/lifecycle.js';
import { createLogger } from '../services/common/logger.js';
import { startOpsServer } from '../services/common/ops-server.js';
import { exitOnFatal } from '../services/common/service.js';
import { startActionTarget } from '../services/fleet-sim/target.js';
import { startLoop } from '../services/loop.js';

const TARGET_PORT = 8090;

/** The local target's HMAC key: made once under the autoglm home, readable by this user only. */
function localHmacKeyFile(home: string): string {
  const file = path.join(home, 'secrets', 'actuator-hmac.key');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  }
  return file;
}

/**
 * `autoglm up`: the local default. Brings the infra up, starts a local action target (which checks
 * every request's HMAC signature), then runs sense, decide, act and verify in this one process
 * with one health/metrics endpoint.
 */
export async function runUp(): Promise<void> {
  const infra = localInfra();
  const endpoints = await infra.up((line) => process.stderr.write(`infra: ${line}\n`));
  const ownTarget = !process.env.AUTOGLM_HTTP_ACTUATOR_URL;
  const hmacKeyFile =
    process.env.AUTOGLM_ACTUATOR_HMAC_KEY_FILE || (ownTarget ? localHmacKeyFile(infra.home) : '');
  const config = loadConfig(process.env, {
    kafkaBrokers: endpoints.kafkaBrokers,
    temporalAddress: endpoints.temporalAddress,
    actuatorHmacKeyFile: hmacKeyFile,
    ...(ownTarget ? { httpActuatorUrl: `http://127.0.0.1:${TARGET_PORT}/actuate` } : {}),
  });
  const logger = createLogger(config.logLevel);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const target = ownTarget
    ? await startActionTarget({
        port: TARGET_PORT,
        hmacKey: Buffer.from(fs.readFileSync(hmacKeyFile, 'utf8').trim(), 'utf8'),
        onAction: (a) =>
          logger.info(
            {
              action: a.body.action,
              entity: a.body.entity,
              idempotencyKey: a.idempotencyKey,
              effective: a.effective,
            },
            'local target received an action',
          ),
      })
    : undefined;
  const loop = await startLoop({ config, logger, registry, onFatal: exitOnFatal(logger) });
  const ops = await startOpsServer({
    port: config.opsPort,
    registry,
    readiness: () => loop.readiness(),
    liveness: () => loop.liveness?.() ?? {},
  });
  logger.info(
    {
      kafka: endpoints.kafkaBrokers,
      temporal: endpoints.temporalAddress,
      temporalUi: endpoints.temporalUi,
      ops: ops.port,
      target: target?.url,
    },
    `autoglm running: produce to ${config.topicPrefix}.metrics; Temporal UI ${endpoints.temporalUi ?? '(external)'}; health on :${ops.port}`,
  );
  stopOnSignals(
    {
      async stop() {
        await loop.stop();
        await ops.close();
        await target?.close();
      },
    },
    logger,
  );
}
