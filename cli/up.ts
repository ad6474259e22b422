import { Registry, collectDefaultMetrics } from 'prom-client';
import { localInfra } from '../infra/infra.js';
import { startAct } from '../services/act/main.js';
import { loadConfig } from '../services/common/config.js';
import { stopOnSignals } from '../services/common/lifecycle.js';
import { createLogger } from '../services/common/logger.js';
import { startOpsServer } from '../services/common/ops-server.js';
import type { Service } from '../services/common/service.js';
import { startDecide } from '../services/decide/main.js';
import { startActionTarget } from '../services/fleet-sim/target.js';
import { startSense } from '../services/sense/main.js';
import { startVerify } from '../services/verify/main.js';

const TARGET_PORT = 8090;

/**
 * `autoglm up`: the local default. Brings the infra up, starts a local action target, then runs
 * sense, decide, act and verify in this one process with one health/metrics endpoint.
 */
export async function runUp(): Promise<void> {
  const infra = localInfra();
  const endpoints = await infra.up((line) => process.stderr.write(`infra: ${line}\n`));
  const config = loadConfig(process.env, {
    kafkaBrokers: endpoints.kafkaBrokers,
    temporalAddress: endpoints.temporalAddress,
    ...(process.env.AUTOGLM_HTTP_ACTUATOR_URL
      ? {}
      : { httpActuatorUrl: `http://127.0.0.1:${TARGET_PORT}/actuate` }),
  });
  const logger = createLogger(config.logLevel);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const target = process.env.AUTOGLM_HTTP_ACTUATOR_URL
    ? undefined
    : await startActionTarget(TARGET_PORT, (a) =>
        logger.info({ target: a.body }, 'local target received an action'),
      );
  const services: Service[] = [];
  for (const start of [startVerify, startAct, startDecide, startSense]) {
    services.push(await start({ config, logger, registry }));
  }
  const readiness = () => Object.assign({}, ...services.map((s) => s.readiness())) as Record<string, boolean>;
  const ops = await startOpsServer({ port: config.opsPort, registry, readiness });
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
        // Sense first so no new observations arrive while the later steps finish their work.
        for (const s of [...services].reverse()) await s.stop();
        await ops.close();
        await target?.close();
      },
    },
    logger,
  );
}
