import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { alertmanagerComponent } from './alertmanager.js';
import { privateDir, repoRoot } from './paths.js';
import { prometheusComponent } from './prometheus.js';

/** The alerting rules on the fleet simulator's metrics that the local Prometheus evaluates. */
export const FLEET_ALERT_RULES = path.join(repoRoot, 'infra', 'prometheus', 'fleet-alerts.yml');
/** Ingest's mapping files for what the local Prometheus and Alertmanager send (remote-write.json, alertmanager.json). */
export const MONITORING_MAPPINGS_DIR = path.join(repoRoot, 'infra', 'prometheus', 'mappings');
/** The ingest sources Prometheus and Alertmanager write to, by their tokens file name. */
export const MONITORING_SOURCES = { remoteWrite: 'remote-write', alertmanager: 'alertmanager' } as const;

/** Where the local stack's pieces meet: the fleet simulator Prometheus scrapes, ingest it writes to. */
export interface MonitoringWiring {
  readonly home: string;
  /** The fleet simulator's control API port (its GET /metrics). */
  readonly fleetPort: number;
  /** Ingest's port on 127.0.0.1. */
  readonly ingestPort: number;
  readonly prometheusPort?: number;
  readonly alertmanagerPort?: number;
  /** Component names (their log, pid and data folders): `prometheus`, `alertmanager`. */
  readonly names?: { prometheus: string; alertmanager: string };
  /** Scrape and rule evaluation interval (`2s`). */
  readonly interval?: string;
  /** Alerting rule files (the fleet's, infra/prometheus/fleet-alerts.yml, by default). */
  readonly ruleFiles?: readonly string[];
  /** PROMETHEUS_URL / ALERTMANAGER_URL: external ones, neither started nor stopped. */
  readonly prometheusUrl?: string;
  readonly alertmanagerUrl?: string;
}

/**
 * The bearer tokens of ingest's remote-write and alertmanager sources for the local stack: one
 * token a file (`<dir>/<source>.tokens`, made once, readable by this user only), which is both
 * ingest's tokens folder (AUTOGLM_INGEST_TOKENS_DIR) and the credentials file Prometheus and
 * Alertmanager send.
 */
export function localIngestTokens(home: string): string {
  const dir = path.join(home, 'secrets', 'ingest-tokens');
  privateDir(path.dirname(dir));
  privateDir(dir);
  for (const source of Object.values(MONITORING_SOURCES)) {
    const file = path.join(dir, `${source}.tokens`);
    if (!fs.existsSync(file)) fs.writeFileSync(file, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
    fs.chmodSync(file, 0o600);
  }
  return dir;
}

/**
 * Prometheus (scraping the fleet simulator's /metrics, evaluating the fleet alert rules,
 * remote-writing the fleet's series to ingest) and Alertmanager (sending every alert to ingest's
 * webhook), wired for one local loop.
 */
export function monitoringComponents(w: MonitoringWiring) {
  const tokens = localIngestTokens(w.home);
  const tokenFile = (source: string) => path.join(tokens, `${source}.tokens`);
  const alertmanager = alertmanagerComponent({
    home: w.home,
    url: w.alertmanagerUrl,
    port: w.alertmanagerPort,
    name: w.names?.alertmanager,
    webhooks: [
      {
        url: `http://127.0.0.1:${w.ingestPort}/api/v1/alertmanager`,
        tokenFile: tokenFile(MONITORING_SOURCES.alertmanager),
      },
    ],
  });
  const prometheus = prometheusComponent({
    home: w.home,
    url: w.prometheusUrl,
    port: w.prometheusPort,
    name: w.names?.prometheus,
    interval: w.interval ?? '2s',
    scrape: [{ job: 'fleet', targets: [`127.0.0.1:${w.fleetPort}`] }],
    ruleFiles: w.ruleFiles ?? [FLEET_ALERT_RULES],
    alertmanagers: [alertmanager.url.replace(/^https?:\/\//, '')],
    remoteWrite: [
      {
        url: `http://127.0.0.1:${w.ingestPort}/api/v1/write`,
        tokenFile: tokenFile(MONITORING_SOURCES.remoteWrite),
        keep: 'fleet_.*',
      },
    ],
  });
  return { prometheus, alertmanager, tokensDir: tokens, mappingsDir: MONITORING_MAPPINGS_DIR };
}
