import fs from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import type { Component, ComponentStatus } from './component.js';
import { PrerequisiteError, ProvisionError } from './errors.js';
import { componentPaths, privateDir, repoRoot } from './paths.js';
import { capture, livePid, residentMiB, runLogged, startDetached, stopPid, which } from './process.js';
import { VERSIONS } from './versions.js';

/** The broker version assembled from Maven Central (infra/versions.json; infra/kafka/pom.xml must say the same). */
export const KAFKA_VERSION = VERSIONS.kafka;

export interface KafkaOptions {
  home: string;
  /** KAFKA_BROKERS from the environment: use it, start nothing. */
  brokers?: string;
  port?: number;
  controllerPort?: number;
  heapMiB?: number;
}

/** The JVM arguments of a broker or of its StorageTool, run from the jars in `libs`. */
export function kafkaJvmArgs(libs: string, heapMiB: number, logDir: string): string[] {
  return [
    `-Xmx${heapMiB}M`,
    `-Xms${heapMiB}M`,
    '-server',
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-Djava.awt.headless=true',
    `-Dkafka.logs.dir=${logDir}`,
    `-Dlog4j2.configurationFile=${path.join(repoRoot, 'infra', 'kafka', 'log4j2.yaml')}`,
    '-cp',
    `${libs}/*`,
  ];
}

/** A single-node KRaft broker run from jars collected by Maven, or an external cluster. */
/**
 * Whether a broker answers a metadata request at once (no retries), with optional kafkajs
 * connection options (TLS, SASL) for a secured listener.
 */
export async function brokerAnswers(
  brokers: string[],
  connection: Pick<KafkaConfig, 'ssl' | 'sasl'> = {},
): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'autoglm-infra',
    brokers,
    ...connection,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export function kafkaComponent(opts: KafkaOptions): Component & { provision(): Promise<string> } {
  const paths = componentPaths(opts.home, 'kafka');
  const port = opts.port ?? 9092;
  const controllerPort = opts.controllerPort ?? 9093;
  const endpoint = opts.brokers ?? `127.0.0.1:${port}`;
  const external = opts.brokers !== undefined;
  const libsDir = path.join(paths.tools, `kafka-${KAFKA_VERSION}`, 'libs');
  const configPath = path.join(paths.data, 'server.properties');

  async function healthy(): Promise<boolean> {
    return brokerAnswers(endpoint.split(','));
  }

  /** A Kafka distribution on PATH (kafka-server-start.sh) or KAFKA_HOME wins over provisioning. */
  function existingLibs(): string | undefined {
    const fromHome = process.env.KAFKA_HOME ? path.join(process.env.KAFKA_HOME, 'libs') : undefined;
    const script = which('kafka-server-start.sh');
    const fromPath = script ? path.resolve(path.dirname(fs.realpathSync(script)), '..', 'libs') : undefined;
    return [fromHome, fromPath].find((dir) => dir !== undefined && fs.existsSync(dir));
  }

  async function provision(): Promise<string> {
    const existing = existingLibs();
    if (existing) return existing;
    if (fs.existsSync(path.join(libsDir, `kafka_2.13-${KAFKA_VERSION}.jar`))) return libsDir;
    const mvn = which('mvn');
    if (!mvn)
      throw new PrerequisiteError('Maven (mvn)', 'Install Maven 3.8+ (Debian: apt-get install maven).');
    const tmp = `${libsDir}.partial`;
    fs.rmSync(tmp, { recursive: true, force: true });
    const provisionLog = path.join(path.dirname(paths.log), 'kafka-provision.log');
    const code = await runLogged(
      mvn,
      [
        '-B',
        '-q',
        '-f',
        path.join(repoRoot, 'infra', 'kafka', 'pom.xml'),
        'dependency:copy-dependencies',
        '-DincludeScope=runtime',
        `-DoutputDirectory=${tmp}`,
      ],
      provisionLog,
    );
    if (code !== 0)
      throw new ProvisionError('kafka', `mvn dependency:copy-dependencies exited with ${code}`, provisionLog);
    fs.mkdirSync(path.dirname(libsDir), { recursive: true });
    fs.rmSync(libsDir, { recursive: true, force: true });
    fs.renameSync(tmp, libsDir);
    return libsDir;
  }

  function writeConfig(): void {
    privateDir(paths.data);
    const props = {
      'process.roles': 'broker,controller',
      'node.id': '1',
      'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
      listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
      'controller.listener.names': 'CONTROLLER',
      'inter.broker.listener.name': 'PLAINTEXT',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'log.dirs': path.join(paths.data, 'log'),
      'num.partitions': '3',
      'auto.create.topics.enable': 'false',
      'offsets.topic.replication.factor': '1',
      'offsets.topic.num.partitions': '10',
      'transaction.state.log.replication.factor': '1',
      'transaction.state.log.min.isr': '1',
      'share.coordinator.state.topic.replication.factor': '1',
      'share.coordinator.state.topic.min.isr': '1',
      'group.initial.rebalance.delay.ms': '0',
    };
    const text = Object.entries(props)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n');
    fs.writeFileSync(configPath, `# written by autoglm infra\n${text}\n`);
  }

  function javaArgs(libs: string, heapMiB: number): string[] {
    return kafkaJvmArgs(libs, heapMiB, path.dirname(paths.log));
  }

  async function formatOnce(java: string, libs: string): Promise<void> {
    if (fs.existsSync(path.join(paths.data, 'log', 'meta.properties'))) return;
    const clusterId = capture(java, [...javaArgs(libs, 256), 'kafka.tools.StorageTool', 'random-uuid'])
      ?.split('\n')
      .pop();
    if (!clusterId) throw new ProvisionError('kafka', 'StorageTool random-uuid failed', paths.log);
    const code = await runLogged(
      java,
      [...javaArgs(libs, 256), 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', configPath],
      paths.log,
    );
    if (code !== 0) throw new ProvisionError('kafka', `StorageTool format exited with ${code}`, paths.log);
  }

  async function start(): Promise<void> {
    if (external || livePid(paths.pid) !== undefined) return;
    const java = which('java');
    if (!java)
      throw new PrerequisiteError(
        'Java 17+',
        'Install a JDK 17 or newer (Debian: apt-get install openjdk-17-jre-headless).',
      );
    const libs = await provision();
    writeConfig();
    await formatOnce(java, libs);
    startDetached(
      java,
      [...javaArgs(libs, opts.heapMiB ?? 512), 'kafka.Kafka', configPath],
      paths.log,
      paths.pid,
    );
  }

  async function status(): Promise<ComponentStatus> {
    const pid = livePid(paths.pid);
    const up = await healthy().catch(() => false);
    const libs = existingLibs() ?? libsDir;
    const jar = fs.existsSync(libs)
      ? fs.readdirSync(libs).find((f) => /^kafka_2\.13-.*\.jar$/.test(f))
      : undefined;
    const version = external ? 'external' : (jar?.replace(/^kafka_2\.13-|\.jar$/g, '') ?? 'not provisioned');
    return {
      name: 'kafka',
      state: up ? 'running' : 'stopped',
      external,
      endpoint,
      version,
      logPath: paths.log,
      ...(pid !== undefined ? { pid, residentMiB: residentMiB(pid) } : {}),
    };
  }

  return {
    name: 'kafka',
    endpoint,
    external,
    endpointEnv: 'KAFKA_BROKERS',
    healthy,
    provision,
    start,
    stop: () => (external ? Promise.resolve(false) : stopPid(paths.pid)),
    status,
  };
}
