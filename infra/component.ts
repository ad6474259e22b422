/** What `autoglm infra status` reports for one component. */
export interface ComponentStatus {
  readonly name: string;
  readonly state: 'running' | 'stopped';
  /** Given by KAFKA_BROKERS / TEMPORAL_ADDRESS: not started or stopped by autoglm. */
  readonly external: boolean;
  readonly endpoint: string;
  readonly version: string;
  readonly logPath: string;
  readonly pid?: number;
  readonly residentMiB?: number;
}

/** One piece of local infrastructure that `autoglm infra` provisions and runs as a process. */
export interface Component {
  readonly name: string;
  /** Address clients use (host:port). */
  readonly endpoint: string;
  /** True when the endpoint came from the environment: we neither start nor stop it. */
  readonly external: boolean;
  /** The environment variable that makes the endpoint external (KAFKA_BROKERS, TEMPORAL_ADDRESS). */
  readonly endpointEnv: string;
  /** Answers a real request (Kafka metadata, Temporal namespace). */
  healthy(): Promise<boolean>;
  /** Provisions what is missing and starts the process; returns without waiting for health. */
  start(): Promise<void>;
  /** Extra set-up once healthy (topics, search attributes). */
  afterHealthy?(): Promise<void>;
  stop(): Promise<boolean>;
  status(): Promise<ComponentStatus>;
}
