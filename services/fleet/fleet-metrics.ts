import { Counter, Gauge, type Registry } from 'prom-client';
import type { ControlRefusal } from './control-api.js';
import type { ActionLogEntry, Incident } from './fleet-types.js';

/**
 * The simulator's Prometheus metrics: what it injected and how each incident ended, every action
 * by verdict (the ground truth a dashboard can put beside the loop's own verdicts), and its ticks.
 */
export class FleetMetrics {
  private readonly injected: Counter<'class'>;
  private readonly ended: Counter<'class' | 'status'>;
  private readonly actions: Counter<'action' | 'verdict'>;
  private readonly refusals: Counter<'reason'>;
  private readonly ticks: Counter<'outcome'>;

  constructor(registry: Registry, activeIncidents: () => number) {
    const registers = [registry];
    this.injected = new Counter({
      name: 'autoglm_fleet_incidents_injected_total',
      help: 'Incident scenarios injected into the simulated fleet, by class',
      labelNames: ['class'],
      registers,
    });
    this.ended = new Counter({
      name: 'autoglm_fleet_incidents_ended_total',
      help: 'Incidents that ended, by class and status (resolved_by_action, expired, ended)',
      labelNames: ['class', 'status'],
      registers,
    });
    this.actions = new Counter({
      name: 'autoglm_fleet_actions_total',
      help: 'Actions received, by action and verdict (right, wrong, false_positive, duplicate, escalation, refused)',
      labelNames: ['action', 'verdict'],
      registers,
    });
    this.refusals = new Counter({
      name: 'autoglm_fleet_control_refused_total',
      help: 'Control API requests refused before reaching the fleet (bad_signature, replayed, busy, too_large, bad_request, bad_host, not_found)',
      labelNames: ['reason'],
      registers,
    });
    this.ticks = new Counter({
      name: 'autoglm_fleet_ticks_total',
      help: 'Ticks produced to Kafka, by outcome (published, failed)',
      labelNames: ['outcome'],
      registers,
    });
    new Gauge({
      name: 'autoglm_fleet_incidents_active',
      help: 'Incidents active now',
      registers,
      collect(this: Gauge) {
        this.set(activeIncidents());
      },
    });
  }

  incidentInjected(incident: Incident): void {
    this.injected.inc({ class: incident.class });
  }

  incidentEnded(incident: Incident): void {
    this.ended.inc({ class: incident.class, status: incident.status });
  }

  /** Counts the action; an action that resolved an incident also counts that incident as ended. */
  action(entry: ActionLogEntry): void {
    // Unknown action names are caller-chosen text: one label value for all of them.
    this.actions.inc({
      action: entry.verdict === 'refused' ? 'refused' : entry.action,
      verdict: entry.verdict,
    });
    if (entry.verdict === 'right' && entry.incidentClass)
      this.ended.inc({ class: entry.incidentClass, status: 'resolved_by_action' });
  }

  refused(reason: ControlRefusal): void {
    this.refusals.inc({ reason });
  }

  tick(published: boolean): void {
    this.ticks.inc({ outcome: published ? 'published' : 'failed' });
  }
}
