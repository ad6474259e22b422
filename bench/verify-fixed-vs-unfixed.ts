/**
 * Does a rollback rule's verification tell a fix from no fix? The fleet simulator's bad deploys with
 * errors renamed (`http_5xx_rate`, no ingest mapping: the no-errors-metric rollback twins decide),
 * through sense's windows and baselines, the shipped classifier and decide's Decider, then through
 * verify's own VerifyCondition and VerificationTracker for each candidate verify spec and for the
 * rule's own: once with the rollback applied to the fleet (the right action: latency recovers),
 * once with nothing fixed. Prints, per spec, fixed verified / unfixed verified, and the latency
 * ratio (window mean over its decision-time value) a 2-minute streak needs for each.
 *
 *   npx tsx bench/verify-fixed-vs-unfixed.ts
 *   SEEDS=64 npx tsx bench/verify-fixed-vs-unfixed.ts   (defaults: SEEDS 16, HISTORY_MS 35000,
 *   ACT_DELAY_MS 3000, RULES rules/, MODEL models/incident; VERBOSE=1 lists each miss)
 *
 * HISTORY_MS 35000 is the live mix's young baselines; 7200000 a warm entity. Chose the twins'
 * `relativeTo` latency.avg atMost 0.95 (34dbe3d).
 */
import path from 'node:path';
import { repoRoot } from '../infra/paths.js';
import { FleetModel } from '../services/fleet/fleet-model.js';
import { FLEET_SCENARIO_CLASSES, type FleetScenarioClass } from '../services/fleet/fleet-types.js';
import { BaselineStore } from '../services/sense/baseline.js';
import { EntityWindows } from '../services/sense/windows.js';
import { FleetFeed } from '../services/classifier/fleet-dataset.js';
import { seededRandom, shuffleInPlace } from '../services/classifier/seeded-random.js';
import { readModelJson } from '../services/classifier/model-files.js';
import { predict } from '../services/classifier/predict.js';
import { Decider } from '../services/decide/decider.js';
import { loadRuleSet } from '../services/decide/rule-set.js';
import { VerifyCondition } from '../services/verify/condition.js';
import { VerificationTracker } from '../services/verify/tracker.js';
import type { Observation, Decision } from '../services/common/contracts.js';

const rulesDir = process.env.RULES ?? path.join(repoRoot, 'rules');
const set = (await loadRuleSet(rulesDir)).ruleSet!;
const model = readModelJson(process.env.MODEL ?? path.join(repoRoot, 'models', 'incident'));
const TW = new Set(['bad-deploy-no-errors-metric-rollback', 'bad-deploy-no-errors-metric-rollback-tier1']);
const seeds = Number(process.env.SEEDS ?? 16);
const historyMs = Number(process.env.HISTORY_MS ?? 35_000);
const ACT_DELAY_MS = Number(process.env.ACT_DELAY_MS ?? 3_000);

type Spec = {
  conditions: Record<string, unknown>;
  relativeTo?: Array<{ fact: string; atMost?: number; atLeast?: number }>;
};
const dev = (v: number) => ({ fact: 'latency.deviation', operator: 'lessThan', value: v });
/** `latency.deviation` below `below`, and the window's mean latency at most `atMost` of its decision-time value. */
const spec = (below: number | undefined, atMost?: number): Spec => ({
  conditions: { all: below === undefined ? [] : [dev(below)] },
  ...(atMost === undefined ? {} : { relativeTo: [{ fact: 'latency.avg', atMost }] }),
});
const CANDIDATES: Record<string, Spec> = {
  'dev<2 (now)': spec(2),
  'dev<1.5': spec(1.5),
  'dev<1': spec(1),
  'dev<2 + avg<=0.9x': spec(2, 0.9),
  'dev<2 + avg<=0.8x': spec(2, 0.8),
  'dev<1.5 + avg<=0.9x': spec(1.5, 0.9),
  'dev<1.5 + avg<=0.85x': spec(1.5, 0.85),
  'avg<=0.9x only': spec(undefined, 0.9),
  'dev<2 + avg<=0.95x': spec(2, 0.95),
  'dev<2 + avg<=0.85x': spec(2, 0.85),
};
const within = 10 * 60_000,
  stableFor = 2 * 60_000;

function decisionValuesOf(d: Decision, spec: Spec) {
  const v: Record<string, number> = {};
  for (const c of spec.relativeTo ?? []) {
    const x = d.facts[c.fact];
    if (typeof x === 'number') v[c.fact] = x;
  }
  return v;
}
function decisionBaselineOf(d: Decision, spec: Spec) {
  const f: Record<string, number> = {};
  for (const [, m] of JSON.stringify(spec).matchAll(
    /"([a-z][a-z0-9_]*)\.(?:baseline|deviation|anomaly|spread)"/g,
  ))
    for (const s of ['baseline', 'spread', 'deviation', 'last']) {
      const x = d.facts[`${m}.${s}`];
      if (typeof x === 'number') f[`${m}.${s}`] = x;
    }
  return f;
}

async function run(seed: number, fix: boolean) {
  const fleet = new FleetModel({
    services: 6,
    podsPerService: 5,
    seed,
    incidentTimeoutMs: 15 * 60_000,
    noisyDurationMs: 4 * 60_000,
    recoveryMs: 20_000,
    tickMs: 1000,
  });
  const baselines = new BaselineStore();
  const windows = new EntityWindows({
    windowMs: 30_000,
    emitEveryMs: 5_000,
    maxMetricsPerEntity: 64,
    maxEntities: 100_000,
    baselines,
  });
  const ms = { drop: [], scale: {}, rename: { errors: 'http_5xx_rate' } };
  const START = Date.UTC(2026, 0, 5);
  const newObs: Observation[] = [];
  const feed = new FleetFeed({
    fleet,
    windows,
    baselines,
    metricSet: ms,
    start: START,
    tickMs: 1000,
    historyTickMs: 5000,
    onObservation: (o) => newObs.push(o),
  });
  const advanceTo = (until: number, history = false) => feed.advanceTo(until, history);
  advanceTo(START + historyMs - 30_000, true);
  advanceTo(START + historyMs);
  newObs.length = 0;
  const random = seededRandom(seed ^ 0x5eed);
  const ids = fleet.entityIds;
  const pool = [...FLEET_SCENARIO_CLASSES, null];
  const plan: Array<FleetScenarioClass | null> = ids.map((_, i) => pool[i % pool.length]!);
  shuffleInPlace(plan, random);
  const start = feed.now;
  const bad = new Set<string>();
  ids.forEach((entity, i) => {
    const c = plan[i];
    if (c) {
      const r = fleet.inject({ class: c, entity }, start);
      if (r.ok && c === 'bad_deploy') bad.add(entity);
    }
  });
  const decider = new Decider(set);
  const out = new Map<
    string,
    {
      decidedAtS?: number;
      devAt?: number;
      verdicts: Record<string, string>;
      atS: Record<string, number>;
      minRatio?: number;
      maxSettled?: number;
      series?: Array<[number, number]>;
    }
  >();
  for (const e of bad) out.set(e, { verdicts: {}, atS: {} });
  const verifying = new Map<
    string,
    {
      actedAt: number;
      d: Decision;
      checks: Array<{ name: string; cond: VerifyCondition; tr: VerificationTracker }>;
    }
  >();
  const end = start + 13 * 60_000;
  while (feed.now < end) {
    advanceTo(feed.now + 1000 - 1);
    const batch = newObs.splice(0);
    for (const obs of batch) {
      if (!bad.has(obs.entity)) continue;
      const o = out.get(obs.entity)!;
      const v = verifying.get(obs.entity);
      if (v) {
        const ratio = (obs.features['latency.avg'] as number) / (v.d.facts['latency.avg'] as number);
        const since = obs.ts - v.actedAt;
        if (since > 0 && since <= within) (o.series ??= []).push([since, ratio]);
        if (since > 0) o.minRatio = Math.min(o.minRatio ?? Infinity, ratio);
        if (since >= 60_000 && since <= 240_000) o.maxSettled = Math.max(o.maxSettled ?? 0, ratio);
        for (const c of v.checks) {
          if (c.tr.current !== 'pending') continue;
          const st = c.tr.observe(obs, await c.cond.check(obs));
          if (st !== 'pending') {
            o.verdicts[c.name] = st;
            o.atS[c.name] = Math.round((obs.ts - v.actedAt) / 1000);
          }
        }
        continue;
      }
      if (o.decidedAtS !== undefined) continue;
      const inc = predict(model, {
        features: obs.features,
        events: obs.events.map((e) => ({ kind: e.kind, message: e.message })),
      });
      const step = await decider.decide(obs, obs.window.end, inc);
      const d = step.decisions.find((x) => TW.has(x.rule) && x.action === 'rollback');
      if (!d) continue;
      o.decidedAtS = Math.round((obs.ts - start) / 1000);
      o.devAt = d.facts['latency.deviation'] as number;
      const actedAt = obs.ts + ACT_DELAY_MS;
      const checks = [
        ...Object.entries(CANDIDATES),
        ["the rule's own verify", d.verify as Spec] as const,
      ].map(([name, spec]) => ({
        name,
        cond: new VerifyCondition(spec.conditions, spec.relativeTo ?? [], {
          decisionValues: decisionValuesOf(d, spec),
          decisionBaseline: decisionBaselineOf(d, spec),
          anomalyDeviation: 4.5,
        }),
        tr: new VerificationTracker({ actedAt, withinMs: within, stableForMs: stableFor }),
      }));
      verifying.set(obs.entity, { actedAt, d, checks });
      if (fix) pending.push({ entity: obs.entity, at: actedAt });
    }
    for (const p of pending.splice(0)) {
      if (p.at <= feed.now) {
        const r = fleet.applyAction(
          { idempotencyKey: `${seed}-${p.entity}`, entity: p.entity, action: 'rollback', args: {} },
          p.at,
        );
        if (r.entry.verdict !== 'right') console.log('rollback not right', seed, p.entity, r.entry.verdict);
      } else pending.push(p);
    }
  }
  // Unsettled: settle as the workflow would at the deadline.
  for (const [e, v] of verifying)
    for (const c of v.checks)
      if (c.tr.current === 'pending') {
        out.get(e)!.verdicts[c.name] = c.tr.expire(end + 60_000, 0);
      }
  return out;
}
const pending: Array<{ entity: string; at: number }> = [];

const tally: Record<string, Record<string, { verified: number; total: number; atS: number[] }>> = {
  fix: {},
  nofix: {},
};
/** The lowest atMost at which latency.avg alone holds for a 2-minute streak before the deadline. */
function need(series: Array<[number, number]>): number {
  let best = Infinity;
  for (let i = 0; i < series.length; i++) {
    let max = 0;
    for (let j = i; j < series.length; j++) {
      max = Math.max(max, series[j]![1]);
      if (series[j]![0] - series[i]![0] >= stableFor) {
        best = Math.min(best, max);
        break;
      }
    }
  }
  return best;
}
const fixedNeed: number[] = [],
  unfixedNeed: number[] = [];
const fixedSettled: number[] = [],
  unfixedMin: number[] = [];
let decided = 0,
  bads = 0;
const devs: number[] = [];
const decAt: number[] = [];
for (let seed = 1; seed <= seeds; seed++) {
  for (const fix of [true, false]) {
    pending.length = 0;
    const r = await run(seed, fix);
    for (const [e, o] of r) {
      if (o.decidedAtS !== undefined) (fix ? fixedNeed : unfixedNeed).push(need(o.series ?? []));
      if (o.decidedAtS !== undefined)
        (fix ? fixedSettled : unfixedMin).push(fix ? o.maxSettled! : o.minRatio!);
      if (fix) {
        bads++;
        if (o.decidedAtS !== undefined) {
          decided++;
          devs.push(o.devAt!);
          decAt.push(o.decidedAtS);
        }
      }
      if (o.decidedAtS === undefined) continue;
      for (const [name, v] of Object.entries(o.verdicts)) {
        const t = (tally[fix ? 'fix' : 'nofix']![name] ??= { verified: 0, total: 0, atS: [] });
        t.total++;
        if (v === 'verified') {
          t.verified++;
          t.atS.push(o.atS[name]!);
        }
        if (process.env.VERBOSE && ((fix && v !== 'verified') || (!fix && v === 'verified')))
          console.log(
            fix ? 'FIX-not-verified' : 'NOFIX-verified',
            seed,
            e,
            name,
            v,
            'decided',
            o.decidedAtS,
            's dev',
            o.devAt?.toFixed(2),
          );
      }
    }
  }
}
console.log(
  `history ${historyMs / 1000}s, ${seeds} seeds: bad deploys ${bads}, rolled back ${decided}; decision-time deviation ${devs.map((d) => d.toFixed(1)).join(',')}; decided at ${decAt.join(',')} s`,
);
for (const name of [...Object.keys(CANDIDATES), "the rule's own verify"]) {
  const f = tally.fix![name] ?? { verified: 0, total: 0, atS: [] },
    n = tally.nofix![name] ?? { verified: 0, total: 0, atS: [] };
  const med = f.atS.sort((a, b) => a - b)[Math.floor(f.atS.length / 2)];
  console.log(
    `${name.padEnd(24)} fixed verified ${f.verified}/${f.total} (median ${med}s, max ${f.atS.at(-1)}s)   unfixed verified ${n.verified}/${n.total}`,
  );
}
fixedSettled.sort((a, b) => a - b);
unfixedMin.sort((a, b) => a - b);
console.log(
  `latency.avg / decision-time latency.avg: fixed, highest 1-4 min after the action: max ${fixedSettled.at(-1)?.toFixed(3)}, p95 ${fixedSettled[Math.floor(0.95 * fixedSettled.length)]?.toFixed(3)}, median ${fixedSettled[fixedSettled.length >> 1]?.toFixed(3)}; unfixed, lowest over 10 min: min ${unfixedMin[0]?.toFixed(3)}, p5 ${unfixedMin[Math.floor(0.05 * unfixedMin.length)]?.toFixed(3)}, median ${unfixedMin[unfixedMin.length >> 1]?.toFixed(3)}`,
);
fixedNeed.sort((a, b) => a - b);
unfixedNeed.sort((a, b) => a - b);
console.log(
  `lowest atMost on latency.avg that holds 2 min in a row before the deadline: fixed max ${fixedNeed.at(-1)?.toFixed(3)} (p99 ${fixedNeed[Math.floor(0.99 * fixedNeed.length)]?.toFixed(3)}, median ${fixedNeed[fixedNeed.length >> 1]?.toFixed(3)}); unfixed min ${unfixedNeed[0]?.toFixed(3)} (p1 ${unfixedNeed[Math.floor(0.01 * unfixedNeed.length)]?.toFixed(3)}, median ${unfixedNeed[unfixedNeed.length >> 1]?.toFixed(3)})`,
);
