import type { Decision, Observation, Verdict } from '../common/contracts.js';
import { workflowIdFor } from '../decide/decision-id.js';
import type { ActionLogEntry, Incident } from '../fleet/fleet-types.js';
import { policyText } from '../../workflows/approval.js';
import type { RemediationStatus } from '../../workflows/definitions.js';
import type { IncidentView, LiveEvent, Marker, RemediationView, RuleCounts } from './console-types.js';
import { SeriesStore } from './series-store.js';

/** The console's limits; each has a knob (AUTOGLM_CONSOLE_*) except the small fixed caps below. */
export interface ConsoleLimits {
  readonly rangeMs: number;
  readonly points: number;
  readonly maxEntities: number;
}

/** Fixed caps: live lines, followed remediations, incidents, markers per entity, rules, verdicts. */
export const CAPS = {
  events: 500,
  remediations: 1000,
  incidents: 200,
  markersPerEntity: 64,
  rules: 200,
  verdicts: 5000,
  metricsPerEntity: 16,
  ruleBuckets: 60,
} as const;

/** Compensations and escalations the fleet's actuator knows (its other actions are remediations). */
const FOLLOW_UPS = new Set(['scale_in', 'roll_forward', 'expand_volume', 'close_circuit_breaker', 'page']);

const trimMap = <K, V>(m: Map<K, V>, max: number) => {
  while (m.size > max) m.delete(m.keys().next().value as K);
};

/**
 * Everything the console shows, built from the loop's topics (observations, decisions, verdicts),
 * the fleet's incidents and action log (when `up` runs the simulator) and Temporal's status
 * queries, and bounded: the series store (entities × range), and fixed caps on the rest (CAPS). It
 * owns nothing that cannot be rebuilt from those sources; `listeners` get every new live line.
 */
export class ConsoleState {
  readonly series: SeriesStore;
  readonly events: LiveEvent[] = [];
  readonly remediations = new Map<string, RemediationView>();
  readonly incidents = new Map<string, IncidentView>();
  readonly verdicts: Verdict[] = [];
  readonly listeners = new Set<(e: LiveEvent) => void>();
  private readonly markers = new Map<string, Marker[]>();
  private readonly rules = new Map<string, Map<number, RuleCounts>>();
  private readonly ruleBucketMs: number;
  private seq = 0;

  constructor(
    readonly limits: ConsoleLimits,
    private readonly links: { readonly workflowUrl: (workflowId: string) => string | undefined },
  ) {
    this.series = new SeriesStore({ ...limits, maxMetrics: CAPS.metricsPerEntity });
    this.ruleBucketMs = Math.max(1000, Math.ceil(limits.rangeMs / CAPS.ruleBuckets));
  }

  /** One observation: its metrics into the series (`<m>.last` against `<m>.baseline` ± `<m>.spread`). */
  observation(o: Observation): void {
    const f = o.features;
    for (const key in f) {
      if (!key.endsWith('.last')) continue;
      const metric = key.slice(0, -5);
      this.series.record(o.entity, metric, o.ts, f[key]!, f[`${metric}.baseline`], f[`${metric}.spread`]);
    }
    for (const i of this.incidents.values()) {
      if (i.entity === o.entity && i.stage === 'injected' && o.ts > i.startedAt) {
        i.stage = 'sensed';
        const far = Object.keys(f)
          .filter((k) => k.endsWith('.anomaly') && f[k]! >= 0.5)
          .map((k) => k.slice(0, -8));
        this.emit('sensed', o.entity, far.length ? `far from its normal on ${far.join(', ')}` : 'observed', {
          incident: i.id,
        });
      }
    }
  }

  /** One decision: a remediation to follow (enforced), or a line saying why nothing will act. */
  decision(d: Decision): void {
    const workflowId = workflowIdFor(d);
    const url = this.links.workflowUrl(workflowId);
    const cls = d.incident ? `, classifier ${d.incident.class} ${d.incident.confidence.toFixed(2)}` : '';
    this.count(d.rule, d.ts, 'decisions');
    const incident = this.openIncidentOf(d.entity);
    if (incident) incident.stage = 'decided';
    if (d.mode === 'shadow' || d.stale) {
      const kind = d.stale ? 'stale' : 'shadow';
      const text = d.stale
        ? `stale: decided ${d.action} by rule ${d.rule} on input too old to act on${cls}`
        : `shadow mode: decided ${d.action}, not acted (rule ${d.rule})${cls}`;
      this.mark(d.entity, { ts: d.ts, kind: 'decision', label: `${kind}: ${d.rule}` });
      this.emit(kind, d.entity, text, { ...(incident ? { incident: incident.id } : {}) });
      return;
    }
    if (this.remediations.has(workflowId)) return;
    if (incident) incident.workflowId = workflowId;
    const owner = typeof d.facts.owner === 'string' ? d.facts.owner : undefined;
    const labels = d.facts.labels as Record<string, unknown> | undefined;
    const oncall = typeof labels?.oncall === 'string' ? labels.oncall : undefined;
    this.remediations.set(workflowId, {
      workflowId,
      decisionId: d.decisionId,
      entity: d.entity,
      rule: d.rule,
      action: d.action,
      mode: d.mode,
      approval: d.approval,
      incidentClass: d.incident?.class ?? null,
      confidence: d.incident?.confidence ?? null,
      decidedAt: d.ts,
      ...(url ? { url } : {}),
      ...(d.approval === 'required'
        ? {
            mayAnswer: `${owner ? `owner ${owner}` : 'no owner in the catalog'}${oncall ? `, on call ${oncall}` : ''}: from this page with the console token, or autoglm approve|reject ${workflowId} --reason "…" --by <who>`,
          }
        : {}),
      phase: 'starting',
      done: false,
    });
    trimMap(this.remediations, CAPS.remediations);
    this.mark(d.entity, {
      ts: d.ts,
      kind: 'decision',
      label: `${d.rule}: ${d.action}${cls}`,
      workflowId,
      ...(url ? { url } : {}),
    });
    this.emit('decided', d.entity, `${d.action} by rule ${d.rule}${cls}`, {
      workflowId,
      ...(url ? { url } : {}),
      ...(incident ? { incident: incident.id } : {}),
    });
  }

  /** One verdict: the remediation ends; absorbed ones say why. */
  verdict(v: Verdict): void {
    this.verdicts.push(v);
    if (this.verdicts.length > CAPS.verdicts) this.verdicts.splice(0, this.verdicts.length - CAPS.verdicts);
    const r = this.remediations.get(v.workflowId);
    const reason = typeof v.evidence.reason === 'string' ? v.evidence.reason.slice(0, 300) : undefined;
    if (r) {
      r.done = true;
      r.phase = 'done';
      r.outcome = v.outcome;
      if (reason) r.reason = reason;
      delete r.waitingFor;
    }
    if (v.outcome === 'verified') this.count(v.rule, v.ts, 'verified');
    if (v.outcome === 'failed' || v.outcome === 'compensated') this.count(v.rule, v.ts, 'failed');
    const url = this.links.workflowUrl(v.workflowId);
    const link = { workflowId: v.workflowId, ...(url ? { url } : {}) };
    this.mark(v.entity, {
      ts: v.ts,
      kind: v.outcome === 'compensated' ? 'compensation' : 'verdict',
      label: `${v.outcome}: ${v.action}`,
      ...link,
    });
    for (const i of this.incidents.values())
      if (i.entity === v.entity && i.stage !== 'settled' && i.startedAt <= v.ts) i.stage = 'settled';
    if (v.outcome === 'absorbed')
      this.emit(
        'absorbed',
        v.entity,
        `absorbed: ${v.action} by rule ${v.rule}${reason ? `: ${reason}` : ''}`,
        link,
      );
    else
      this.emit(
        'verdict',
        v.entity,
        `${v.outcome}: ${v.action} by rule ${v.rule}${reason ? ` (${reason})` : ''}`,
        link,
      );
  }

  /** A remediation's live status from Temporal (phase, what it waits for, when it acted). */
  status(workflowId: string, s: RemediationStatus): void {
    const r = this.remediations.get(workflowId);
    if (!r || r.done) return;
    const before = `${r.phase}|${r.waitingFor ?? ''}`;
    r.phase = s.phase;
    if (s.waitingFor) r.waitingFor = s.waitingFor;
    else delete r.waitingFor;
    if (s.approvers) r.policy = policyText(s.approvers);
    if (s.approval)
      r.approvedBy = `${s.approval.approve ? 'approved' : 'rejected'} by ${s.approval.by}: ${s.approval.reason}`;
    if (s.actedAt !== undefined && r.actedAt === undefined) {
      r.actedAt = s.actedAt;
      this.count(r.rule, s.actedAt, 'actions');
      this.mark(r.entity, {
        ts: s.actedAt,
        kind: 'action',
        label: `${r.action}`,
        workflowId,
        ...(r.url ? { url: r.url } : {}),
      });
      const incident = this.openIncidentOf(r.entity);
      if (incident) incident.stage = 'acting';
    }
    if (before === `${r.phase}|${r.waitingFor ?? ''}`) return;
    const waiting =
      r.phase === 'awaiting-approval'
        ? `waiting for approval: autoglm approve ${workflowId} --reason …`
        : r.waitingFor
          ? `waiting for ${r.waitingFor}`
          : '';
    this.emit(
      r.phase === 'guarded' ? 'deferred' : 'phase',
      r.entity,
      `${r.action} by rule ${r.rule}: ${r.phase}${waiting ? ` — ${waiting}` : ''}`,
      {
        workflowId,
        ...(r.url ? { url: r.url } : {}),
      },
    );
  }

  /** A fleet incident (the simulator's ground truth), first seen. */
  incident(i: Incident): void {
    if (this.incidents.has(i.id)) return;
    this.incidents.set(i.id, {
      id: i.id,
      class: i.class,
      entity: i.entity,
      startedAt: i.startedAt,
      stage: 'injected',
    });
    trimMap(this.incidents, CAPS.incidents);
    this.emit('injected', i.entity, `${i.class} (${i.id})`, { incident: i.id });
  }

  /** One call of the fleet's actuator: a compensation or an action mark, false positives per rule. */
  action(a: ActionLogEntry): void {
    const r = [...this.remediations.values()].find(
      (x) =>
        (a.decisionId !== null && x.decisionId === a.decisionId) || a.idempotencyKey.startsWith(x.workflowId),
    );
    const kind = FOLLOW_UPS.has(a.action) ? 'compensation' : 'action';
    if (r && a.verdict === 'false_positive') this.count(r.rule, a.at, 'falsePositives');
    // The action mark of a remediation comes from its Temporal status; the log adds follow-ups.
    if (kind === 'compensation' || !r)
      this.mark(a.entity, {
        ts: a.at,
        kind,
        label: `${a.action}: ${a.verdict}`,
        ...(r ? { workflowId: r.workflowId, ...(r.url ? { url: r.url } : {}) } : {}),
      });
    this.emit('action', a.entity, `${a.action}: ${a.verdict}${a.incidentId ? ` (${a.incidentId})` : ''}`, {
      ...(a.incidentId ? { incident: a.incidentId } : {}),
      ...(r ? { workflowId: r.workflowId } : {}),
    });
  }

  /** The marks on `entity` from `sinceMs` on. */
  markersOf(entity: string, sinceMs: number): Marker[] {
    return (this.markers.get(entity) ?? []).filter((m) => m.ts >= sinceMs);
  }

  /** Per rule: its counts per bucket from `sinceMs` on, and the bucket width. */
  ruleCounts(sinceMs: number): {
    bucketMs: number;
    rules: Record<string, Array<{ t: number } & RuleCounts>>;
  } {
    const out: Record<string, Array<{ t: number } & RuleCounts>> = {};
    const from = Math.floor(sinceMs / this.ruleBucketMs);
    for (const [rule, buckets] of this.rules) {
      out[rule] = [...buckets.entries()]
        .filter(([b]) => b >= from)
        .sort((x, y) => x[0] - y[0])
        .map(([b, c]) => ({ t: b * this.ruleBucketMs, ...c }));
    }
    return { bucketMs: this.ruleBucketMs, rules: out };
  }

  private openIncidentOf(entity: string): IncidentView | undefined {
    let found: IncidentView | undefined;
    for (const i of this.incidents.values()) if (i.entity === entity && i.stage !== 'settled') found = i;
    return found;
  }

  private count(rule: string, ts: number, what: keyof RuleCounts): void {
    let buckets = this.rules.get(rule);
    if (!buckets) {
      if (this.rules.size >= CAPS.rules) return;
      buckets = new Map();
      this.rules.set(rule, buckets);
    }
    const b = Math.floor(ts / this.ruleBucketMs);
    let c = buckets.get(b);
    if (!c) {
      c = { decisions: 0, actions: 0, verified: 0, failed: 0, falsePositives: 0 };
      buckets.set(b, c);
      for (const old of buckets.keys()) if (old <= b - CAPS.ruleBuckets) buckets.delete(old);
    }
    c[what]++;
  }

  private mark(entity: string, m: Marker): void {
    let list = this.markers.get(entity);
    if (!list) {
      list = [];
      this.markers.set(entity, list);
      trimMap(this.markers, this.limits.maxEntities);
    }
    list.push(m);
    if (list.length > CAPS.markersPerEntity) list.shift();
  }

  private emit(kind: LiveEvent['kind'], entity: string, text: string, extra: Partial<LiveEvent> = {}): void {
    const e: LiveEvent = { seq: ++this.seq, ts: Date.now(), kind, entity, text, ...extra };
    this.events.push(e);
    if (this.events.length > CAPS.events) this.events.shift();
    for (const l of this.listeners) l(e);
  }
}
