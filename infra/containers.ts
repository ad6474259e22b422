import net from 'node:net';
import { PrerequisiteError } from './errors.js';
import type { InfraEndpoints } from './infra.js';
import { autoglmHome } from './paths.js';
import { DEV_SERVER_DYNAMIC_CONFIG, temporalComponent, SEARCH_ATTRIBUTES } from './temporal.js';
import { waitUntil } from './process.js';
import { VERSIONS } from './versions.js';

/** Images of the Docker topology: docker-compose.yml's, at the versions `autoglm infra up` provisions (infra/versions.json). */
const KAFKA_IMAGE = `apache/kafka:${VERSIONS.kafka}`;
const TEMPORAL_IMAGE = `temporalio/temporal:${VERSIONS.temporalCli}`;

/** The part of Docker's host config that says where ports are published. */
interface PortBindingsConfig {
  PortBindings?: Record<string, Array<{ HostIp?: string; HostPort?: string }>>;
}

/**
 * Publishes every bound port on 127.0.0.1 only: Docker's default is every interface, which would
 * open an unauthenticated broker and Temporal to the network.
 */
export function publishOnLoopback(hostConfig: PortBindingsConfig): void {
  for (const bindings of Object.values(hostConfig.PortBindings ?? {}))
    for (const binding of bindings) binding.HostIp = '127.0.0.1';
}

/**
 * Kafka and Temporal in containers through testcontainers, for machines with a Docker engine
 * (`AUTOGLM_INFRA=testcontainers npm test`). Kafka listens on the same free port inside and
 * outside, so the advertised listener is reachable from the host. Resolves once both answer.
 */
export async function startContainers(): Promise<InfraEndpoints & { stop(): Promise<void> }> {
  const { GenericContainer, Wait, getContainerRuntimeClient } = await import('testcontainers');
  await getContainerRuntimeClient().catch((err: Error) => {
    throw new PrerequisiteError(
      'A Docker engine (for AUTOGLM_INFRA=testcontainers)',
      `testcontainers says: ${err.message}. Unset AUTOGLM_INFRA to run Kafka and Temporal as local processes.`,
    );
  });
  const host = process.env.TESTCONTAINERS_HOST_OVERRIDE ?? '127.0.0.1';
  // A local engine publishes on 127.0.0.1 only; a remote one (host override) must stay reachable.
  const local = process.env.TESTCONTAINERS_HOST_OVERRIDE === undefined;
  class Container extends GenericContainer {
    protected override async beforeContainerCreated(): Promise<void> {
      if (local) publishOnLoopback(this.hostConfig);
    }
  }
  const kafkaPort = await freePort();
  const kafka = await new Container(KAFKA_IMAGE)
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_LISTENERS: `PLAINTEXT://0.0.0.0:${kafkaPort},CONTROLLER://0.0.0.0:9093`,
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${host}:${kafkaPort}`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_INTER_BROKER_LISTENER_NAME: 'PLAINTEXT',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    })
    .withExposedPorts({ container: kafkaPort, host: kafkaPort })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start();
  const temporal = await new Container(TEMPORAL_IMAGE)
    .withCommand([
      'server',
      'start-dev',
      '--ip',
      '0.0.0.0',
      ...SEARCH_ATTRIBUTES.flatMap((n) => ['--search-attribute', `${n}=Keyword`]),
      ...DEV_SERVER_DYNAMIC_CONFIG.flatMap((v) => ['--dynamic-config-value', v]),
    ])
    .withExposedPorts(7233, 8233)
    .withWaitStrategy(Wait.forListeningPorts())
    .start();
  const temporalAddress = `${temporal.getHost()}:${temporal.getMappedPort(7233)}`;
  const check = temporalComponent({ home: autoglmHome(), address: temporalAddress });
  const ready = await waitUntil(() => check.healthy(), 60_000);
  if (!ready.ok)
    throw new Error(`Temporal container did not answer at ${temporalAddress}: ${ready.lastError ?? ''}`);
  await check.afterHealthy?.();
  return {
    kafkaBrokers: `${host}:${kafkaPort}`,
    temporalAddress,
    temporalUi: `http://${temporal.getHost()}:${temporal.getMappedPort(8233)}`,
    async stop() {
      await temporal.stop();
      await kafka.stop();
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
