import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { repoRoot } from '../../infra/paths.js';
import { makeTestPki } from '../../infra/secure-certs.js';
import { secureInfra, type SecureEndpoints } from '../../infra/secure.js';
import { loadConfig, topicNames, type Config } from '../../services/common/config.js';
import type { Decision } from '../../services/common/contracts.js';
import { connectProducer, createKafka } from '../../services/common/kafka.js';
import { clearConnectionProblem } from '../../services/common/connection-problems.js';
import { loggerOptions } from '../../services/common/logger.js';
import { startOpsServer } from '../../services/common/ops-server.js';
import { connectClient } from '../../services/common/temporal.js';
import { workflowIdFor } from '../../services/decide/decision-id.js';
import { startLoop } from '../../services/loop.js';
import { isolatedLoopSettings, fastCpuRule, writeRuleDir } from '../support/fast-loop.js';
import { deleteTopicsWithPrefix, streamMetric, TopicTap } from '../support/kafka.js';
import { startActionTarget, type ActionTarget } from '../support/target.js';
import { terminateTestRuns } from '../support/temporal.js';
import { unique } from '../support/config.js';

const RULE = fastCpuRule('secure-cpu-scale-out', '8s');

/** Everything the services and clients of this file log, to grep for secrets. */
const captured: string[] = [];
const capture = new Writable({
  write(chunk: Buffer, _enc, done) {
    captured.push(chunk.toString());
    done();
  },
});
const logger = pino(loggerOptions('info', 'secure-test'), capture);

/** The bytes that must never show: the SCRAM password and the client key's body. */
function secretsOf(s: SecureEndpoints): string[] {
  const key = fs.readFileSync(s.pki.clientKey, 'utf8');
  const body = key.split('\n').filter((l) => l && !l.startsWith('-----'));
  return [fs.readFileSync(s.passwordFile, 'utf8').trim(), ...body];
}

function assertNoSecret(text: string, secrets: readonly string[], where: string): void {
  for (const secret of secrets) assert.ok(!text.includes(secret), `${where} holds a secret`);
}

/** Runs one step as its own process with `env`; resolves with its exit code, output and time taken. */
function runStep(step: string, env: Record<string, string>, timeoutMs = 30_000) {
  const started = Date.now();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, `services/${step}/main.ts`)],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AUTOGLM_OPS_PORT: '0',
        LOG_LEVEL: 'info',
        ...env,
      },
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise<{ code: number | null; out: string; ms: number }>((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, ms: Date.now() - started });
    }),
  );
}

describe('the secured infra: Kafka over SASL_SSL and mTLS, Temporal over mTLS', () => {
  let infra: ReturnType<typeof secureInfra>;
  let endpoints: SecureEndpoints;
  let startedHere = false;
  let secrets: string[];
  const temporalTarget = process.env.TEMPORAL_ADDRESS || '127.0.0.1:7233';

  before(async () => {
    infra = secureInfra(process.env, temporalTarget);
    const running = (await infra.status()).every((s) => s.state === 'running');
    endpoints = await infra.up();
    startedHere = !running;
    secrets = secretsOf(endpoints);
  });

  after(async () => {
    assertNoSecret(captured.join(''), secrets, 'the logs of the in-process services');
    // The secured broker's and the TLS endpoint's own logs, the broker's format output included.
    for (const log of [
      path.join(infra.home, 'logs', 'kafka-secure.log'),
      path.join(infra.home, 'logs', 'temporal-tls.log'),
      path.join(infra.home, 'data', 'kafka-secure', 'format.log'),
    ]) {
      assert.ok(fs.existsSync(log), log);
      assertNoSecret(fs.readFileSync(log, 'utf8'), secrets, log);
    }
    if (startedHere) await infra.down();
  });

  for (const way of ['scram', 'mtls'] as const) {
    it(`runs the loop over ${way === 'scram' ? 'SASL_SSL with SCRAM-SHA-512' : 'Kafka mTLS'}, the workflow through Temporal's TLS endpoint`, async () => {
      const target: ActionTarget = await startActionTarget();
      const rulesDir = writeRuleDir([RULE]);
      const config: Config = loadConfig(
        { ...endpoints[way] },
        { ...isolatedLoopSettings('sec'), topicPartitions: '1', rulesDir, httpActuatorUrl: target.url },
      );
      assert.equal(config.kafkaSecurity.protocol, way === 'scram' ? 'SASL_SSL' : 'SSL');
      assert.ok(config.temporalSecurity.certFile, 'Temporal is reached with a client certificate');
      const topics = topicNames(config);
      const entity = unique('sec-hot');
      const loop = await startLoop({ config, logger, registry: new Registry() });
      const kafka = createKafka(config, logger);
      const producer = await connectProducer(kafka);
      const decisions = await new TopicTap(kafka, topics.decisions, logger).start();
      const client = await connectClient(config);
      try {
        await streamMetric(
          producer,
          topics.metrics,
          { entity, metric: 'cpu', value: 95 },
          {
            everyMs: 200,
            maxMs: 45_000,
            until: () => target.received.some((a) => JSON.stringify(a.body).includes(entity)),
          },
        );
        const decision = await decisions.waitFor<Decision>((d) => d.entity === entity, 1000);
        assert.equal(decision.action, 'scale_out');
        // decide's client started the workflow and act's worker ran it, both over mTLS.
        const handle = client.workflow.getHandle(workflowIdFor(decision));
        assert.ok((await handle.describe()).runId);
        assert.ok(
          target.received.some((a) => JSON.stringify(a.body).includes(entity)),
          'the act worker called the target',
        );
      } finally {
        await decisions.stop();
        await loop.stop();
        await terminateTestRuns(client, config.topicPrefix, [entity]).catch(() => undefined);
        await deleteTopicsWithPrefix(kafka, config.topicPrefix);
        await producer.disconnect();
        await client.connection.close();
        await target.close();
        fs.rmSync(rulesDir, { recursive: true, force: true });
      }
    });
  }

  it('the SASL_SSL listener takes PLAIN and SCRAM-SHA-256 as well, from the same password file', async () => {
    for (const mechanism of ['PLAIN', 'SCRAM-SHA-256'] as const) {
      const config = loadConfig({ ...endpoints.scram, KAFKA_SASL_MECHANISM: mechanism });
      assert.equal(config.kafkaSecurity.sasl?.mechanism, mechanism);
      const admin = createKafka(config, logger).admin();
      await admin.connect();
      try {
        assert.ok((await admin.describeCluster()).brokers.length > 0, mechanism);
      } finally {
        await admin.disconnect();
      }
    }
  });

  it('a client refused once running (its CA no longer signs the broker) puts the reason on /readyz', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-readyz-'));
    const ops = await startOpsServer({
      port: 0,
      registry: new Registry(),
      readiness: () => ({ consumer: false }),
    });
    try {
      const other = makeTestPki(dir);
      const config = loadConfig(
        { ...endpoints.scram, KAFKA_SSL_CA_FILE: other.caCert },
        isolatedLoopSettings('secrdy'),
      );
      const admin = createKafka(config, logger).admin({ retry: { retries: 0 } });
      await assert.rejects(admin.connect());
      const body = (await (await fetch(`http://127.0.0.1:${ops.port}/readyz`)).json()) as {
        connections?: { kafka?: { problem: string } };
      };
      assert.match(
        body.connections?.kafka?.problem ?? '',
        /^kafka 127\.0\.0\.1:\d+ \(SASL_SSL, SCRAM-SHA-512 as autoglm\): the broker's certificate is not signed by a CA in KAFKA_SSL_CA_FILE/,
      );
    } finally {
      clearConnectionProblem('kafka');
      await ops.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  /** A step started with `env` stops within 15 s with one line matching `line`, no secret in its output. */
  async function stopsWith(step: string, env: Record<string, string>, line: RegExp): Promise<void> {
    const overrides = isolatedLoopSettings('secerr');
    const r = await runStep(step, {
      AUTOGLM_TOPIC_PREFIX: overrides.topicPrefix!,
      AUTOGLM_GROUP_PREFIX: overrides.groupPrefix!,
      AUTOGLM_ACT_TASK_QUEUE: overrides.actTaskQueue!,
      AUTOGLM_VERIFY_TASK_QUEUE: overrides.verifyTaskQueue!,
      AUTOGLM_MODEL_DIR: 'off',
      ...env,
    });
    assert.notEqual(r.code, 0, `the step exits non-zero:\n${r.out}`);
    assert.ok(r.ms < 15_000, `stopped in ${r.ms} ms (limit 15 s):\n${r.out}`);
    // The reason is one line; the step's JSON logs (other parts at work meanwhile) may come beside it.
    const lines = r.out
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('{'));
    assert.equal(lines.length, 1, `one line:\n${r.out}`);
    assert.match(lines[0]!, line);
    assertNoSecret(r.out, secrets, `the output of ${step}`);
  }

  it('a wrong password stops start-up within 15 s with one line naming the endpoint, the mechanism and the fix', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-secure-'));
    const wrong = path.join(dir, 'password');
    fs.writeFileSync(wrong, 'not-the-password', { mode: 0o600 });
    try {
      await stopsWith(
        'sense',
        { ...endpoints.scram, KAFKA_SASL_PASSWORD_FILE: wrong },
        /^KafkaAccessError: kafka 127\.0\.0\.1:\d+ \(SASL_SSL, SCRAM-SHA-512 as autoglm\): authentication failed: check KAFKA_SASL_USERNAME and the password in KAFKA_SASL_PASSWORD_FILE/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a CA that did not sign the broker or the Temporal endpoint, or a client certificate it did not sign, stops start-up with one line', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-other-ca-'));
    try {
      const other = makeTestPki(dir);
      await stopsWith(
        'sense',
        { ...endpoints.scram, KAFKA_SSL_CA_FILE: other.caCert },
        /^KafkaAccessError: kafka .*\(SASL_SSL, SCRAM-SHA-512 as autoglm\): the broker's certificate is not signed by a CA in KAFKA_SSL_CA_FILE/,
      );
      await stopsWith(
        'sense',
        { ...endpoints.mtls, KAFKA_SSL_CERT_FILE: other.clientCert, KAFKA_SSL_KEY_FILE: other.clientKey },
        /^KafkaAccessError: kafka .*\(SSL, client certificate\): the broker refused the client certificate \(unknown issuer, expired or wrong\)/,
      );
      await stopsWith(
        'verify',
        { ...endpoints.scram, TEMPORAL_TLS_CA_FILE: other.caCert },
        /^TemporalAccessError: temporal 127\.0\.0\.1:\d+ namespace default \(TLS, client certificate\): the server's certificate is not signed by a CA in TEMPORAL_TLS_CA_FILE/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing client certificate stops start-up with one line, for Kafka mTLS and for Temporal', async () => {
    const { KAFKA_SSL_CERT_FILE: _c, KAFKA_SSL_KEY_FILE: _k, ...kafkaNoCert } = endpoints.mtls;
    await stopsWith(
      'sense',
      kafkaNoCert,
      /^KafkaAccessError: kafka .*\(SSL\): the broker refused the client certificate \(none was sent\): set KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE/,
    );
    const { TEMPORAL_TLS_CERT_FILE: _tc, TEMPORAL_TLS_KEY_FILE: _tk, ...temporalNoCert } = endpoints.scram;
    await stopsWith(
      'verify',
      temporalNoCert,
      /^TemporalAccessError: temporal .* \(TLS\): the server refused the client certificate \(none was sent\): set TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE/,
    );
  });

  it('plaintext against the TLS listener and a namespace that does not exist each stop start-up with one line', async () => {
    const {
      KAFKA_SECURITY_PROTOCOL: _p,
      KAFKA_SASL_MECHANISM: _m,
      KAFKA_SASL_USERNAME: _u,
      KAFKA_SASL_PASSWORD_FILE: _f,
      KAFKA_SSL_CA_FILE: _ca,
      ...plain
    } = endpoints.scram;
    await stopsWith(
      'sense',
      plain,
      /^KafkaAccessError: kafka .*\(PLAINTEXT\): the listener speaks TLS but the client does not: set KAFKA_SECURITY_PROTOCOL=SSL/,
    );
    await stopsWith(
      'verify',
      { ...endpoints.scram, TEMPORAL_NAMESPACE: 'no-such-namespace' },
      /^TemporalAccessError: temporal .* namespace no-such-namespace .*: the namespace does not exist/,
    );
  });
});
