import type { GuardStatus } from '../../workflows/definitions.js';
import { scoreRun } from '../fleet/scorecard.js';
import type { FleetSource } from './console-feed.js';
import type { ConsoleState } from './console-state.js';
import type { RemediationView } from './console-types.js';

/** Entities listed on the front page (the furthest from their normal now); the search finds the others. */
const TOP_ENTITIES = 100;
/** Most remediations one answer lists. */
const MAX_LISTED = 100;

/** What the API reads beside the state: Temporal's guards (through the feed) and the fleet. */
export interface ConsoleApiDeps {
  readonly approvals: boolean;
  readonly temporalUi: string | undefined;
  /** k of the band: baseline ± k spreads (AUTOGLM_BASELINE_ANOMALY_DEVIATION, where the anomaly score is 0.5). */
  readonly anomalyDeviation: number;
  readonly budget: () => GuardStatus | undefined;
  readonly entityGuard: (entity: string) => Promise<GuardStatus | null>;
  readonly fleet?: FleetSource;
}

/**
 * The console's JSON API over its state, by name (`/api/<name>`): `overview` (the front page),
 * `entities?q=`, `entity?id=&range=` (chart, markers, guard), `rules?range=`, `scorecard`.
 */
export function consoleApi(
  state: ConsoleState,
  deps: ConsoleApiDeps,
): Record<string, (q: URLSearchParams) => unknown> {
  const since = (q: URLSearchParams) => {
    const all = state.limits.rangeMs;
    return Date.now() - Math.min(Number(q.get('range') ?? all) || all, all);
  };
  const remediations = (pick: (r: RemediationView) => boolean) =>
    [...state.remediations.values()].filter(pick).slice(-MAX_LISTED);
  return {
    overview: () => ({
      approvals: deps.approvals,
      temporalUi: deps.temporalUi ?? null,
      limits: { ...state.limits, widthMs: state.series.widthMs },
      events: state.events.slice(-200),
      incidents: [...state.incidents.values()].slice(-50),
      inFlight: remediations((r) => !r.done),
      settled: remediations((r) => r.done).slice(-30),
      budget: deps.budget() ?? null,
      entities: { count: state.series.size, top: topEntities(state) },
    }),
    entities: (q) => {
      const needle = (q.get('q') ?? '').slice(0, 200);
      const out: string[] = [];
      for (const id of state.series.entityIds()) if (id.includes(needle) && out.push(id) >= 200) break;
      return { entities: out };
    },
    entity: async (q) => {
      const id = q.get('id') ?? '';
      const from = since(q);
      return {
        entity: id,
        chart: state.series.chart(id, from) ?? null,
        markers: state.markersOf(id, from),
        remediations: remediations((r) => r.entity === id),
        guard: id ? await deps.entityGuard(id).catch(() => null) : null,
        k: deps.anomalyDeviation,
      };
    },
    rules: (q) => state.ruleCounts(since(q)),
    scorecard: () =>
      deps.fleet ? scoreRun(deps.fleet.incidents(), deps.fleet.actionsSince(0), state.verdicts, false) : null,
  };
}

/** The entities furthest from their normal now. */
function topEntities(state: ConsoleState): Array<{ entity: string; deviation: number }> {
  const all: Array<{ entity: string; deviation: number }> = [];
  for (const entity of state.series.entityIds())
    all.push({ entity, deviation: state.series.latestDeviation(entity) });
  return all.sort((a, b) => b.deviation - a.deviation).slice(0, TOP_ENTITIES);
}
