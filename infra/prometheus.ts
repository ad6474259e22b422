import fs from 'node:fs';
import path from 'node:path';
import type { Component, ComponentStatus } from './component.js';
import { PrerequisiteError } from './errors.js';
import { componentPaths, privateDir } from './paths.js';
import { capture, livePid, residentMiB, startDetached, stopPid, which } from './process.js';

/** Our Prometheus's port: not Debian's 9090, so a packaged system service never collides with ours. */
export const PROMETHEUS_PORT = 19090;

/** One scrape job: `targets` are host:port, scraped at `path` (/metrics). */
export interface ScrapeJob {
  readonly job: string;
  readonly targets: readonly string[];
  readonly path?: string;
}

/** Where Prometheus remote-writes its samples (remote-write 1.0), with a bearer token read from a file. */
export interface RemoteWriteTarget {
  readonly url: string;
  readonly tokenFile?: string;
  /** Only series whose name matches this regular expression are sent (all when undefined). */
  readonly keep?: string;
}

export interface PrometheusOptions {
  home: string;
  /** PROMETHEUS_URL from the environment: use it, start nothing. */
  url?: string;
  port?: number;
  /** Name of the component, its log, pid and data folder (`prometheus`). */
  name?: string;
  scrape?: readonly ScrapeJob[];
  /** How often targets are scraped and rules evaluated (`5s`). */
  interval?: string;
  remoteWrite?: readonly RemoteWriteTarget[];
  /** Alerting and recording rule files (absolute paths). */
  ruleFiles?: readonly string[];
  /** Alertmanagers alerts are sent to (host:port). */
  alertmanagers?: readonly string[];
}

/**
 * Prometheus's configuration for the options, as JSON (which is YAML, so Prometheus reads it as
 * it is: no YAML library at run time).
 */
export function prometheusConfig(opts: PrometheusOptions): string {
  const interval = opts.interval ?? '5s';
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
    ...(opts.ruleFiles?.length ? { rule_files: [...opts.ruleFiles] } : {}),
    ...(opts.alertmanagers?.length
      ? { alerting: { alertmanagers: [{ static_configs: [{ targets: [...opts.alertmanagers] }] }] } }
      : {}),
    scrape_configs: (opts.scrape ?? []).map((s) => ({
      job_name: s.job,
      metrics_path: s.path ?? '/metrics',
      static_configs: [{ targets: [...s.targets] }],
    })),
    ...(opts.remoteWrite?.length
      ? {
          remote_write: opts.remoteWrite.map((w) => ({
            url: w.url,
            ...(w.tokenFile ? { authorization: { type: 'Bearer', credentials_file: w.tokenFile } } : {}),
            ...(w.keep
              ? { write_relabel_configs: [{ source_labels: ['__name__'], regex: w.keep, action: 'keep' }] }
              : {}),
            // Small batches sent soon: the loop wants samples within seconds, not a 5 s deadline.
            queue_config: { batch_send_deadline: '1s', max_samples_per_send: 2000, min_backoff: '100ms' },
          })),
        }
      : {}),
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** Answers 200 on `<origin>/-/ready` (Prometheus and Alertmanager both serve it once ready). */
export async function readyAt(origin: string): Promise<boolean> {
  const res = await fetch(`${origin}/-/ready`, { signal: AbortSignal.timeout(1000) });
  await res.arrayBuffer();
  return res.ok;
}

/**
 * Prometheus from Debian's `prometheus` package, run as our own process with our own config and
 * TSDB under the autoglm home on its own port (the package's system service is never used), or an
 * external one named by PROMETHEUS_URL.
 */
export function prometheusComponent(opts: PrometheusOptions): Component & { readonly url: string } {
  const name = opts.name ?? 'prometheus';
  const paths = componentPaths(opts.home, name);
  const port = opts.port ?? PROMETHEUS_PORT;
  const external = opts.url !== undefined;
  const url = (opts.url ?? `http://127.0.0.1:${port}`).replace(/\/+$/, '');
  const endpoint = external ? url : `127.0.0.1:${port}`;
  const configFile = path.join(paths.data, 'prometheus.yml');

  function binary(): string {
    const bin = which('prometheus');
    if (!bin)
      throw new PrerequisiteError(
        'prometheus',
        "Install Debian's package: apt-get install prometheus (its system service is not used; " +
          'autoglm runs its own process), or set PROMETHEUS_URL to one that runs.',
      );
    return bin;
  }

  async function start(): Promise<void> {
    if (external || livePid(paths.pid) !== undefined) return;
    const bin = binary();
    privateDir(paths.data);
    fs.writeFileSync(configFile, prometheusConfig(opts), { mode: 0o600 });
    startDetached(
      bin,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(paths.data, 'tsdb')}`,
        '--storage.tsdb.retention.time=2d',
        `--web.listen-address=127.0.0.1:${port}`,
        '--web.enable-lifecycle',
        '--log.level=warn',
      ],
      paths.log,
      paths.pid,
    );
  }

  const status = () => serverStatus({ name, url, external, bin: which('prometheus'), paths });

  return {
    name,
    endpoint,
    url,
    external,
    endpointEnv: 'PROMETHEUS_URL',
    healthy: () => readyAt(url),
    start,
    stop: () => (external ? Promise.resolve(false) : stopPid(paths.pid)),
    status,
  };
}

/**
 * A Prometheus-family server's status (Prometheus, Alertmanager): ready or not, the version its
 * binary reports, and the pid and memory of the process we started.
 */
export async function serverStatus(o: {
  name: string;
  url: string;
  external: boolean;
  bin: string | undefined;
  paths: { pid: string; log: string };
}): Promise<ComponentStatus> {
  const pid = livePid(o.paths.pid);
  const up = await readyAt(o.url).catch(() => false);
  const version = o.external
    ? 'external'
    : o.bin
      ? (/version (\S+)/.exec(capture(o.bin, ['--version']) ?? '')?.[1] ?? 'unknown')
      : 'not installed';
  return {
    name: o.name,
    state: up ? 'running' : 'stopped',
    external: o.external,
    endpoint: o.url,
    version,
    logPath: o.paths.log,
    ...(pid !== undefined ? { pid, residentMiB: residentMiB(pid) } : {}),
  };
}
