import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { kafkajsSecurityOptions, type KafkaSecurity } from '../services/common/kafka-security.js';
import type { Component, ComponentStatus } from './component.js';
import { PrerequisiteError, ProvisionError } from './errors.js';
import { brokerAnswers, KAFKA_VERSION, kafkaComponent, kafkaJvmArgs } from './kafka.js';
import { componentPaths, privateDir } from './paths.js';
import { capture, livePid, residentMiB, startDetached, stopPid, which } from './process.js';
import type { TestPki } from './secure-certs.js';
import { readSecretFile } from '../services/common/tls-files.js';

/** The user of the secured broker: SCRAM-SHA-256 and SCRAM-SHA-512 (made at format time) and PLAIN, one password. */
export const SECURE_KAFKA_USER = 'autoglm';

export interface SecureKafkaOptions {
  readonly home: string;
  readonly pki: TestPki;
  /** File holding the SCRAM user's password. */
  readonly passwordFile: string;
  /** SASL_SSL listener (SCRAM); the SSL listener requiring a client certificate is the next port. */
  readonly saslPort?: number;
  readonly controllerPort?: number;
  readonly heapMiB?: number;
}

/**
 * A second single-node KRaft broker, apart from the plaintext one (own data, ports and pid): a
 * SASL_SSL listener (PLAIN, and SCRAM users created at format time) and an SSL listener that requires a
 * client certificate signed by the test CA. Brokers talk to themselves over the SSL listener.
 */
export function secureKafkaComponent(opts: SecureKafkaOptions): Component & {
  readonly saslEndpoint: string;
  readonly mtlsEndpoint: string;
} {
  const paths = componentPaths(opts.home, 'kafka-secure');
  const saslPort = opts.saslPort ?? 29094;
  const mtlsPort = saslPort + 1;
  const controllerPort = opts.controllerPort ?? 29093;
  const saslEndpoint = `127.0.0.1:${saslPort}`;
  const mtlsEndpoint = `127.0.0.1:${mtlsPort}`;
  const configPath = path.join(paths.data, 'server.properties');
  const logDir = path.dirname(paths.log);

  const security: KafkaSecurity = {
    protocol: 'SASL_SSL',
    caFile: opts.pki.caCert,
    insecureSkipVerify: false,
    sasl: { mechanism: 'SCRAM-SHA-512', username: SECURE_KAFKA_USER, passwordFile: opts.passwordFile },
  };

  async function healthy(): Promise<boolean> {
    return brokerAnswers([saslEndpoint], kafkajsSecurityOptions(security));
  }

  function writeConfig(): void {
    privateDir(paths.data);
    const storePassword = readSecretFile(opts.pki.keystorePasswordFile);
    const scram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
    const props = {
      'process.roles': 'broker,controller',
      'node.id': '1',
      'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
      listeners: `SASL_SSL://${saslEndpoint},SSL://${mtlsEndpoint},CONTROLLER://127.0.0.1:${controllerPort}`,
      'advertised.listeners': `SASL_SSL://${saslEndpoint},SSL://${mtlsEndpoint}`,
      'controller.listener.names': 'CONTROLLER',
      'inter.broker.listener.name': 'SSL',
      'listener.security.protocol.map': 'SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT',
      'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      // PLAIN's users live in the broker's config (the broker logs the value as [hidden]).
      'listener.name.sasl_ssl.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required user_${SECURE_KAFKA_USER}="${readSecretFile(opts.passwordFile)}";`,
      'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config': scram,
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': scram,
      'listener.name.ssl.ssl.client.auth': 'required',
      'ssl.keystore.type': 'PKCS12',
      'ssl.keystore.location': opts.pki.serverKeystore,
      'ssl.keystore.password': storePassword,
      'ssl.key.password': storePassword,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': opts.pki.caCert,
      'log.dirs': path.join(paths.data, 'log'),
      'num.partitions': '3',
      'auto.create.topics.enable': 'false',
      'offsets.topic.replication.factor': '1',
      'offsets.topic.num.partitions': '4',
      'transaction.state.log.replication.factor': '1',
      'transaction.state.log.min.isr': '1',
      'share.coordinator.state.topic.replication.factor': '1',
      'share.coordinator.state.topic.min.isr': '1',
      'group.initial.rebalance.delay.ms': '0',
    };
    const text = Object.entries(props)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n');
    fs.writeFileSync(configPath, `# written by autoglm infra up --secure\n${text}\n`, { mode: 0o600 });
  }

  async function formatOnce(java: string, libs: string): Promise<void> {
    if (fs.existsSync(path.join(paths.data, 'log', 'meta.properties'))) return;
    const jvm = kafkaJvmArgs(libs, 256, logDir);
    const clusterId = capture(java, [...jvm, 'kafka.tools.StorageTool', 'random-uuid'])
      ?.split('\n')
      .pop();
    if (!clusterId) throw new ProvisionError('kafka-secure', 'StorageTool random-uuid failed', paths.log);
    const password = readSecretFile(opts.passwordFile);
    const user = (mechanism: string) => `${mechanism}=[name=${SECURE_KAFKA_USER},password=${password}]`;
    // Not runLogged: it writes the command line, which holds the password, into the log.
    const formatLog = path.join(paths.data, 'format.log');
    const fd = fs.openSync(formatLog, 'a', 0o600);
    const code = spawnSync(
      java,
      [
        ...jvm,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        clusterId,
        '-c',
        configPath,
        '--add-scram',
        user('SCRAM-SHA-256'),
        '--add-scram',
        user('SCRAM-SHA-512'),
      ],
      { stdio: ['ignore', fd, fd], timeout: 120_000 },
    ).status;
    fs.closeSync(fd);
    if (code !== 0)
      throw new ProvisionError(
        'kafka-secure',
        `StorageTool format exited with ${code}`,
        path.join(paths.data, 'format.log'),
      );
  }

  async function start(): Promise<void> {
    if (livePid(paths.pid) !== undefined) return;
    const java = which('java');
    if (!java)
      throw new PrerequisiteError(
        'Java 17+',
        'Install a JDK 17 or newer (Debian: apt-get install openjdk-17-jre-headless).',
      );
    const libs = await kafkaComponent({ home: opts.home }).provision();
    writeConfig();
    await formatOnce(java, libs);
    startDetached(
      java,
      [...kafkaJvmArgs(libs, opts.heapMiB ?? 384, logDir), 'kafka.Kafka', configPath],
      paths.log,
      paths.pid,
    );
  }

  async function status(): Promise<ComponentStatus> {
    const pid = livePid(paths.pid);
    const up = await healthy().catch(() => false);
    return {
      name: 'kafka-secure',
      state: up ? 'running' : 'stopped',
      external: false,
      endpoint: `${saslEndpoint} (SASL_SSL: PLAIN, SCRAM-SHA-256/512), ${mtlsEndpoint} (SSL, client certificate)`,
      version: KAFKA_VERSION,
      logPath: paths.log,
      ...(pid !== undefined ? { pid, residentMiB: residentMiB(pid) } : {}),
    };
  }

  return {
    name: 'kafka-secure',
    endpoint: saslEndpoint,
    saslEndpoint,
    mtlsEndpoint,
    external: false,
    endpointEnv: 'KAFKA_BROKERS',
    healthy,
    start,
    stop: () => stopPid(paths.pid),
    status,
  };
}
