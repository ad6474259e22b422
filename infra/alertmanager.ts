import fs from 'node:fs';
import path from 'node:path';
import type { Component } from './component.js';
import { PrerequisiteError } from './errors.js';
import { componentPaths, privateDir } from './paths.js';
import { readyAt, serverStatus } from './prometheus.js';
import { livePid, startDetached, stopPid, which } from './process.js';

/** Our Alertmanager's port: not the package's 9093 (the local Kafka's controller listens there). */
export const ALERTMANAGER_PORT = 19093;

/** Where Alertmanager posts its webhook (payload version 4), with a bearer token read from a file. */
export interface WebhookTarget {
  readonly url: string;
  readonly tokenFile?: string;
}

export interface AlertmanagerOptions {
  home: string;
  /** ALERTMANAGER_URL from the environment: use it, start nothing. */
  url?: string;
  port?: number;
  /** Name of the component, its log, pid and data folder (`alertmanager`). */
  name?: string;
  /** Receivers of every alert; none: alerts are kept (and silenced) but sent nowhere. */
  webhooks?: readonly WebhookTarget[];
  /** Labels alerts are grouped by (one notification per group). */
  groupBy?: readonly string[];
  /** How long a new group waits for more alerts before its first notification (`1s`). */
  groupWait?: string;
  /** How long before a changed group is notified again (`5s`). */
  groupInterval?: string;
  /** How long before an unchanged, still firing group is sent again (`1h`). */
  repeatInterval?: string;
}

/** Alertmanager's configuration for the options, as JSON (which Alertmanager reads as YAML). */
export function alertmanagerConfig(opts: AlertmanagerOptions): string {
  const config = {
    route: {
      receiver: 'autoglm',
      group_by: [...(opts.groupBy ?? ['alertname', 'namespace', 'pod'])],
      group_wait: opts.groupWait ?? '1s',
      group_interval: opts.groupInterval ?? '5s',
      repeat_interval: opts.repeatInterval ?? '1h',
    },
    receivers: [
      {
        name: 'autoglm',
        ...(opts.webhooks?.length
          ? {
              webhook_configs: opts.webhooks.map((w) => ({
                url: w.url,
                send_resolved: true,
                ...(w.tokenFile
                  ? { http_config: { authorization: { type: 'Bearer', credentials_file: w.tokenFile } } }
                  : {}),
              })),
            }
          : {}),
      },
    ],
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * Alertmanager from Debian's `prometheus-alertmanager` package, run as our own process (no
 * clustering) with our own config and silences under the autoglm home on its own port, or an
 * external one named by ALERTMANAGER_URL.
 */
export function alertmanagerComponent(opts: AlertmanagerOptions): Component & { readonly url: string } {
  const name = opts.name ?? 'alertmanager';
  const paths = componentPaths(opts.home, name);
  const port = opts.port ?? ALERTMANAGER_PORT;
  const external = opts.url !== undefined;
  const url = (opts.url ?? `http://127.0.0.1:${port}`).replace(/\/+$/, '');
  const endpoint = external ? url : `127.0.0.1:${port}`;
  const configFile = path.join(paths.data, 'alertmanager.yml');
  const findBinary = () => which('prometheus-alertmanager') ?? which('alertmanager');

  async function start(): Promise<void> {
    if (external || livePid(paths.pid) !== undefined) return;
    const bin = findBinary();
    if (!bin)
      throw new PrerequisiteError(
        'prometheus-alertmanager',
        "Install Debian's package: apt-get install prometheus-alertmanager (its system service is not " +
          'used; autoglm runs its own process), or set ALERTMANAGER_URL to one that runs.',
      );
    privateDir(paths.data);
    fs.writeFileSync(configFile, alertmanagerConfig(opts), { mode: 0o600 });
    startDetached(
      bin,
      [
        `--config.file=${configFile}`,
        `--storage.path=${path.join(paths.data, 'store')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        // One instance: no gossip port (9094) opened, no peers looked for.
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      paths.log,
      paths.pid,
    );
  }

  const status = () => serverStatus({ name, url, external, bin: findBinary(), paths });

  return {
    name,
    endpoint,
    url,
    external,
    endpointEnv: 'ALERTMANAGER_URL',
    healthy: () => readyAt(url),
    start,
    stop: () => (external ? Promise.resolve(false) : stopPid(paths.pid)),
    status,
  };
}
