import type { Verdict } from '../common/contracts.js';
import {
  FLEET_SCENARIO_CLASSES,
  type ActionLogEntry,
  type FleetScenarioClass,
  type Incident,
  type Parked,
} from './fleet-types.js';

/**
 * Scores a run of the loop against the fleet's ground truth: per scenario class, how many
 * incidents were injected, how many got the right action, how many a wrong one, how many were
 * missed, how many remediations hit an entity with nothing to fix, and how long from the
 * incident's start to the verdict of its remediation. Incidents the loop left alone by design
 * (absorbed by the guard, decided in shadow, waiting for an approval) have columns of their own:
 * they are neither open nor missed. Pure: the inputs are the simulator's incidents and action log
 * and the loop's verdicts (read from Kafka).
 */

/** How a remediation that concerns an incident ended, as far as the loop said. */
const SETTLED = new Set<Verdict['outcome']>(['verified', 'failed', 'compensated', 'expired', 'rejected']);

export interface ScoreRow {
  /** A scenario class, the healthy fleet (remediations of entities with no incident), or the total. */
  readonly class: FleetScenarioClass | 'healthy_fleet' | 'total';
  readonly incidents: number;
  /** Incidents whose remediation was the right action. */
  readonly right: number;
  /** Wrong remediations received by incidents of the class (an action that does not fix it). */
  readonly wrong: number;
  /** Incidents no remediation reached: no decision acted on the entity while it lasted. */
  readonly missed: number;
  /** Incidents still going with no settled remediation (only when `openIsMissed` is false). */
  readonly open: number;
  /** Incidents not acted on because the entity guard absorbed the remediation (a cooldown, one in flight). */
  readonly absorbed: number;
  /** Incidents a shadow rule decided on: decided, not acted. */
  readonly shadow: number;
  /** Incidents whose remediation waits (or waited in vain) for an operator's approval. */
  readonly awaitingApproval: number;
  /** Remediations where there was nothing to fix (a noisy-but-healthy entity, a healthy one). */
  readonly falsePositives: number;
  /** Incidents whose remediation settled (verified, failed, compensated, escalated or expired). */
  readonly accounted: number;
  /** Incident start → its remediation's verdict, in ms. */
  readonly verdictP50: number | null;
  readonly verdictP95: number | null;
  /** Incidents acted on more than once (two effective remediations of the same incident). */
  readonly actedTwice: number;
}

export interface Scorecard {
  readonly rows: ScoreRow[];
  readonly total: ScoreRow;
}

/** Remediation actions: escalations (page) and compensations are not counted as remediations. */
const COMPENSATIONS = new Set(['scale_in', 'roll_forward', 'expand_volume', 'close_circuit_breaker', 'page']);

export function scoreRun(
  incidents: readonly Incident[],
  actions: readonly ActionLogEntry[],
  verdicts: readonly Verdict[],
  /** At the end of a run with a deadline (the suite) an incident nobody acted on is missed; in a live view it may still be open. */
  openIsMissed = true,
  /** What the loop said of incidents it left alone, by incident id (beside each incident's own `parked`). */
  parked: ReadonlyMap<string, Parked> = new Map(),
): Scorecard {
  const verdictByWorkflow = new Map(verdicts.map((v) => [v.workflowId, v]));
  const verdictByDecision = new Map(verdicts.map((v) => [v.decisionId, v]));
  const rows: ScoreRow[] = [];
  const remediations = actions.filter((a) => a.effective && !COMPENSATIONS.has(a.action));
  for (const cls of FLEET_SCENARIO_CLASSES) {
    const mine = incidents.filter((i) => i.class === cls);
    let right = 0;
    let wrong = 0;
    let missed = 0;
    let open = 0;
    let absorbed = 0;
    let shadow = 0;
    let awaitingApproval = 0;
    let falsePositives = 0;
    let accounted = 0;
    let actedTwice = 0;
    const times: number[] = [];
    for (const incident of mine) {
      const acts = remediations.filter((a) => a.incidentId === incident.id);
      wrong += acts.filter((a) => a.verdict === 'wrong').length;
      falsePositives += acts.filter((a) => a.verdict === 'false_positive').length;
      if (cls === 'noisy_healthy') continue;
      if (acts.some((a) => a.verdict === 'right')) right++;
      if (acts.filter((a) => a.verdict === 'right' || a.verdict === 'wrong').length > 1) actedTwice++;
      // The remediation's verdict: by its idempotency key (the workflow id) or its decision.
      const settled = acts
        .map(
          (a) =>
            verdictByWorkflow.get(a.idempotencyKey) ??
            (a.decisionId ? verdictByDecision.get(a.decisionId) : undefined),
        )
        .find((v) => v !== undefined && SETTLED.has(v.outcome));
      const stillGoing = !openIsMissed && incident.status === 'active';
      const leftAlone = incident.parked ?? parked.get(incident.id);
      if (acts.length === 0 && leftAlone) {
        if (leftAlone.kind === 'absorbed') absorbed++;
        else if (leftAlone.kind === 'shadow') shadow++;
        else awaitingApproval++;
        continue;
      }
      if (acts.length === 0) {
        if (stillGoing) open++;
        else missed++;
        continue;
      }
      if (settled) {
        accounted++;
        times.push(settled.ts - incident.startedAt);
      } else if (!openIsMissed) open++; // acted on, its verdict still to come
    }
    rows.push({
      class: cls,
      incidents: mine.length,
      right,
      wrong,
      missed,
      open,
      absorbed,
      shadow,
      awaitingApproval,
      falsePositives,
      accounted,
      verdictP50: percentile(times, 0.5),
      verdictP95: percentile(times, 0.95),
      actedTwice,
    });
  }
  // Remediations of entities that had no incident at all.
  const healthy = remediations.filter((a) => a.incidentId === null && a.verdict === 'false_positive');
  rows.push({
    class: 'healthy_fleet',
    incidents: 0,
    right: 0,
    wrong: 0,
    missed: 0,
    open: 0,
    absorbed: 0,
    shadow: 0,
    awaitingApproval: 0,
    falsePositives: healthy.length,
    accounted: 0,
    verdictP50: null,
    verdictP95: null,
    actedTwice: 0,
  });
  const sum = (
    k:
      | 'incidents'
      | 'right'
      | 'wrong'
      | 'missed'
      | 'open'
      | 'absorbed'
      | 'shadow'
      | 'awaitingApproval'
      | 'falsePositives'
      | 'accounted'
      | 'actedTwice',
  ) => rows.reduce((a, r) => a + r[k], 0);
  return {
    rows,
    total: {
      class: 'total',
      incidents: sum('incidents'),
      right: sum('right'),
      wrong: sum('wrong'),
      missed: sum('missed'),
      open: sum('open'),
      absorbed: sum('absorbed'),
      shadow: sum('shadow'),
      awaitingApproval: sum('awaitingApproval'),
      falsePositives: sum('falsePositives'),
      accounted: sum('accounted'),
      verdictP50: null,
      verdictP95: null,
      actedTwice: sum('actedTwice'),
    },
  };
}

/** The scorecard as a plain-text table, one row per class and a total. */
export function formatScorecard(card: Scorecard, title: string): string[] {
  const head = [
    'class',
    'incidents',
    'right',
    'wrong',
    'missed',
    'open',
    'absorbed',
    'shadow',
    'awaiting approval',
    'false+',
    'settled',
    'verdict p50',
    'p95',
  ];
  const widths = [20, 9, 6, 6, 7, 5, 8, 6, 17, 7, 8, 12, 8];
  const cell = (v: string, i: number) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!));
  const secs = (ms: number | null) => (ms === null ? '-' : `${(ms / 1000).toFixed(1)}s`);
  const line = (r: ScoreRow, name: string) =>
    [
      name,
      String(r.incidents),
      String(r.right),
      String(r.wrong),
      String(r.missed),
      String(r.open),
      String(r.absorbed),
      String(r.shadow),
      String(r.awaitingApproval),
      String(r.falsePositives),
      String(r.accounted),
      secs(r.verdictP50),
      secs(r.verdictP95),
    ]
      .map(cell)
      .join(' ');
  return [
    title,
    head.map(cell).join(' '),
    ...card.rows.map((r) => line(r, r.class)),
    line(card.total, card.total.class),
  ];
}

function percentile(xs: number[], q: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number;
}
