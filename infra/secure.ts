import path from 'node:path';
import { KAFKA_SECURITY_ENV } from '../services/common/kafka-security.js';
import { TEMPORAL_SECURITY_ENV } from '../services/common/temporal-security.js';
import { checkTemporalTransport } from '../services/common/temporal-security.js';
import type { Component, ComponentStatus } from './component.js';
import { HealthTimeoutError } from './errors.js';
import { autoglmHome, componentPaths, repoRoot } from './paths.js';
import { livePid, residentMiB, startDetached, stopPid, waitUntil } from './process.js';
import { makeTestPki, passwordFile, type TestPki } from './secure-certs.js';
import { SECURE_KAFKA_USER, secureKafkaComponent } from './secure-kafka.js';

/** The TLS endpoint (client certificate required) in front of a plaintext Temporal server. */
export function temporalTlsComponent(opts: {
  home: string;
  pki: TestPki;
  target: string;
  port?: number;
}): Component {
  const paths = componentPaths(opts.home, 'temporal-tls');
  const endpoint = `127.0.0.1:${opts.port ?? 27233}`;
  const sec = {
    tls: true,
    caFile: opts.pki.caCert,
    certFile: opts.pki.clientCert,
    keyFile: opts.pki.clientKey,
  };

  async function healthy(): Promise<boolean> {
    if (livePid(paths.pid) === undefined) return false;
    await checkTemporalTransport(endpoint, 'default', sec, 2000);
    return true;
  }

  async function status(): Promise<ComponentStatus> {
    const pid = livePid(paths.pid);
    const up = await healthy().catch(() => false);
    return {
      name: 'temporal-tls',
      state: up ? 'running' : 'stopped',
      external: false,
      endpoint: `${endpoint} (TLS, client certificate) -> ${opts.target}`,
      version: 'infra/tls-proxy.ts',
      logPath: paths.log,
      ...(pid !== undefined ? { pid, residentMiB: residentMiB(pid) } : {}),
    };
  }

  return {
    name: 'temporal-tls',
    endpoint,
    external: false,
    endpointEnv: 'TEMPORAL_ADDRESS',
    healthy,
    async start() {
      if (livePid(paths.pid) !== undefined) return;
      startDetached(
        process.execPath,
        [
          '--import',
          'tsx',
          path.join(repoRoot, 'infra', 'tls-proxy.ts'),
          endpoint,
          opts.target,
          opts.pki.caCert,
          opts.pki.serverCert,
          opts.pki.serverKey,
        ],
        paths.log,
        paths.pid,
        repoRoot,
      );
    },
    stop: () => stopPid(paths.pid),
    status,
  };
}

/** What a client needs to reach the secured infra, as environment variables, by way in. */
export interface SecureEndpoints {
  /** Kafka over SASL_SSL with SCRAM-SHA-512, and Temporal over mTLS. */
  readonly scram: Readonly<Record<string, string>>;
  /** Kafka over SSL with a client certificate (mTLS), and Temporal over mTLS. */
  readonly mtls: Readonly<Record<string, string>>;
  /** The file holding the SCRAM password (for tests that check it never shows). */
  readonly passwordFile: string;
  readonly pki: TestPki;
}

/**
 * The secured local infra: a broker of its own (SASL_SSL on 29094, mTLS on 29095) and a TLS
 * endpoint requiring a client certificate (27233) in front of the plaintext Temporal at
 * `temporalTarget`. Certificates and the password are made once under `<home>/secure/`.
 */
export function secureInfra(
  env: NodeJS.ProcessEnv = process.env,
  temporalTarget = env.TEMPORAL_ADDRESS || '127.0.0.1:7233',
) {
  const home = autoglmHome(env);
  const dir = path.join(home, 'secure');
  const pki = makeTestPki(path.join(dir, 'pki'));
  const password = passwordFile(path.join(dir, 'kafka-password'));
  const kafka = secureKafkaComponent({ home, pki, passwordFile: password });
  const temporal = temporalTlsComponent({ home, pki, target: temporalTarget });
  const components: readonly Component[] = [kafka, temporal];
  const startTimeoutMs = Number(env.AUTOGLM_INFRA_TIMEOUT_MS ?? 90_000);
  const K = KAFKA_SECURITY_ENV;
  const T = TEMPORAL_SECURITY_ENV;
  const temporalEnv = {
    TEMPORAL_ADDRESS: temporal.endpoint,
    [T.caFile]: pki.caCert,
    [T.certFile]: pki.clientCert,
    [T.keyFile]: pki.clientKey,
    // The certificate names localhost and 127.0.0.1; a name (not an IP) is what TLS's SNI carries.
    [T.serverName]: 'localhost',
  };
  const endpoints: SecureEndpoints = {
    scram: {
      KAFKA_BROKERS: kafka.saslEndpoint,
      [K.protocol]: 'SASL_SSL',
      [K.mechanism]: 'SCRAM-SHA-512',
      [K.username]: SECURE_KAFKA_USER,
      [K.passwordFile]: password,
      [K.caFile]: pki.caCert,
      ...temporalEnv,
    },
    mtls: {
      KAFKA_BROKERS: kafka.mtlsEndpoint,
      [K.protocol]: 'SSL',
      [K.caFile]: pki.caCert,
      [K.certFile]: pki.clientCert,
      [K.keyFile]: pki.clientKey,
      ...temporalEnv,
    },
    passwordFile: password,
    pki,
  };

  return {
    home,
    components,
    /** Starts what is not answering; resolves once both answer, with the variables a client needs. */
    async up(log: (line: string) => void = () => undefined): Promise<SecureEndpoints> {
      await Promise.all(
        components.map(async (c) => {
          if (await c.healthy().catch(() => false))
            return log(`${c.name}: already answering at ${c.endpoint}`);
          log(`${c.name}: starting at ${c.endpoint}`);
          await c.start();
          const result = await waitUntil(() => c.healthy(), startTimeoutMs);
          if (!result.ok)
            throw new HealthTimeoutError(
              c.name,
              c.endpoint,
              startTimeoutMs,
              componentPaths(home, c.name).log,
              result.lastError,
            );
          log(`${c.name}: healthy`);
        }),
      );
      return endpoints;
    },
    async down(log: (line: string) => void = () => undefined): Promise<void> {
      for (const c of [...components].reverse())
        log(`${c.name}: ${(await c.stop()) ? 'stopped' : 'was not running'}`);
    },
    status(): Promise<ComponentStatus[]> {
      return Promise.all(components.map((c) => c.status()));
    },
    endpoints,
  };
}

/** The `export NAME=value` lines `autoglm infra up --secure` prints: file paths, never a secret. */
export function envLines(vars: Readonly<Record<string, string>>): string {
  return Object.entries(vars)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}
