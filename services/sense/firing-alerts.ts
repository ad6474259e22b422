import type { FiringAlert, OpsEvent } from '../common/contracts.js';

/** Most alerts kept firing per entity; beyond it the one firing longest is forgotten. */
export const MAX_FIRING_ALERTS = 10;
/** Most labels kept per alert, and their longest value: an observation stays small. */
const MAX_ALERT_LABELS = 8;
const MAX_LABEL_VALUE = 128;

/**
 * The alerts firing now for one entity, from its `alert` events (ingest's Alertmanager source:
 * attributes status, alertname, severity, fingerprint, startsAt, label_<name>): a firing alert is
 * kept until its resolution (same fingerprint), whatever the window, so `alerts.firing` is a
 * state, not a count of recent events. Events without a status or fingerprint (a simulator's,
 * another source's) are ignored here; they still ride along as events.
 */
export class FiringAlerts {
  private readonly byFingerprint = new Map<string, FiringAlert>();

  /** Takes one event; returns whether it changed what fires. */
  apply(event: OpsEvent): boolean {
    const a = event.attrs;
    const fingerprint = a?.fingerprint;
    if (event.kind !== 'alert' || typeof fingerprint !== 'string') return false;
    if (a?.status === 'resolved') return this.byFingerprint.delete(fingerprint);
    if (a?.status !== 'firing') return false;
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(a)) {
      if (!k.startsWith('label_') || typeof v !== 'string') continue;
      if (Object.keys(labels).length >= MAX_ALERT_LABELS) break;
      labels[k.slice('label_'.length)] = v.slice(0, MAX_LABEL_VALUE);
    }
    const since = typeof a.startsAt === 'string' ? Date.parse(a.startsAt) : NaN;
    this.byFingerprint.delete(fingerprint);
    this.byFingerprint.set(fingerprint, {
      name: typeof a.alertname === 'string' ? a.alertname.slice(0, MAX_LABEL_VALUE) : 'alert',
      severity: typeof a.severity === 'string' ? a.severity.slice(0, MAX_LABEL_VALUE) : null,
      since: Number.isFinite(since) ? since : event.ts,
      labels,
    });
    if (this.byFingerprint.size > MAX_FIRING_ALERTS) {
      let oldest: [string, FiringAlert] | undefined;
      for (const entry of this.byFingerprint) if (!oldest || entry[1].since < oldest[1].since) oldest = entry;
      this.byFingerprint.delete(oldest![0]);
    }
    return true;
  }

  get size(): number {
    return this.byFingerprint.size;
  }

  /** What fires, the longest-firing first. */
  list(): FiringAlert[] {
    return [...this.byFingerprint.values()].sort((x, y) => x.since - y.since || x.name.localeCompare(y.name));
  }
}
