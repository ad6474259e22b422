/**
 * A bad deploy whose rollback went stale (deferred under load past the decision age, so it never
 * acted) is decided again on fresh input, after its deploy event has left the window: sense keeps
 * each entity's last deploy time (`lastDeploy`, the `deploy.ageSeconds` fact) and the starter
 * rollback rules take a deploy up to 10 minutes old. Sense's own windows, decide's own Decider and
 * the starter rules from rules/, as the live services and the backtest run them.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { repoRoot } from '../../infra/paths.js';
import type { IncidentFact } from '../../services/classifier/model-types.js';
import { fastObservation, observationSchema, type Observation } from '../../services/common/contracts.js';
import { factOf, factsFor } from '../../services/common/facts.js';
import { unknownFact } from '../../services/common/facts-reference.js';
import type { Decision } from '../../services/common/contracts.js';
import { Decider } from '../../services/decide/decider.js';
import { loadRuleSet, type RuleSet } from '../../services/decide/rule-set.js';
import { EntityWindows } from '../../services/sense/windows.js';

/** A multiple of the emit interval. */
const T0 = 1_800_000_000_000;
const WINDOW_MS = 30_000;
const ENTITY = 'search/pod-2'; // tier 2 in the starter catalog: no approval
const RULE = 'error-spike-after-deploy-rollback';
const BAD_DEPLOY: IncidentFact = {
  class: 'bad_deploy',
  confidence: 0.97,
  probabilities: { bad_deploy: 0.97 },
  modelVersion: 'test',
};
/** AUTOGLM_MAX_DECISION_AGE's default: a remediation deferred past it ends stale. */
const DECISION_AGE_MS = 180_000;

const newWindows = () =>
  new EntityWindows({ windowMs: WINDOW_MS, emitEveryMs: 5000, maxMetricsPerEntity: 16, maxEntities: 100 });

/** One second of samples at `ts`: errors at `errors`, latency up with them, CPU healthy; the observation it emits. */
function tick(w: EntityWindows, ts: number, errors: number): Observation | undefined {
  let out: Observation | undefined;
  for (const [metric, value] of [
    ['cpu', 41],
    ['errors', errors],
    ['latency', errors > 1 ? 210 : 120],
  ] as const) {
    const o = w.addSample({ entity: ENTITY, metric, value, ts });
    if (o.kind === 'observation') out = o.observation;
  }
  return out;
}

/**
 * Runs a bad deploy at `deployAt` through sense's windows and the Decider (every observation
 * decided 1 s after its window ends, as a fresh one), with the first rollback's remediation
 * ending stale at `staleAt` (no stale end when undefined); decisions of RULE until `until`.
 */
async function run(
  set: RuleSet,
  opts: { deployAt: number; staleAt?: number; until: number; deploy?: boolean },
): Promise<Array<{ decision: Decision; obs: Observation }>> {
  const w = newWindows();
  const decider = new Decider(set, { maxDecisionAgeMs: DECISION_AGE_MS });
  const out: Array<{ decision: Decision; obs: Observation }> = [];
  let staleSent = false;
  for (let ts = T0; ts < opts.until; ts += 1000) {
    if (ts === opts.deployAt && opts.deploy !== false)
      w.addEvent({ entity: ENTITY, kind: 'deploy', message: 'search v5.0.2 rolled out', ts });
    const obs = tick(w, ts, ts >= opts.deployAt + 2000 ? 14 : 0.2);
    if (!obs) continue;
    if (opts.staleAt !== undefined && !staleSent && ts >= opts.staleAt && out.length > 0) {
      const first = out[0]!.decision;
      decider.staleEnded(first.entity, first.rule, first.decisionId);
      staleSent = true;
    }
    // As decide reads it: the JSON sense publishes, through the hot path's parser.
    const read = fastObservation(JSON.parse(JSON.stringify(obs)));
    assert.ok(read, 'the fast path reads an observation with lastDeploy');
    const decided = await decider.decide(read, obs.window.end + 1000, BAD_DEPLOY);
    for (const decision of decided.decisions) if (decision.rule === RULE) out.push({ decision, obs: read });
  }
  return out;
}

describe('a bad deploy whose rollback went stale is decided again after its deploy left the window', () => {
  let set: RuleSet;
  before(async () => {
    const loaded = await loadRuleSet(path.join(repoRoot, 'rules'));
    assert.deepEqual(loaded.problems, []);
    set = loaded.ruleSet!;
  });

  it('sense keeps the last deploy time after the event leaves the window: deploy.ageSeconds', () => {
    const w = newWindows();
    const deployAt = T0 + 60_000;
    const seen: Observation[] = [];
    for (let ts = T0; ts < T0 + 400_000; ts += 1000) {
      if (ts === deployAt) w.addEvent({ entity: ENTITY, kind: 'deploy', message: 'v2', ts });
      // An older deploy, out of order, does not replace the newer one.
      if (ts === deployAt + 1000) w.addEvent({ entity: ENTITY, kind: 'deploy', message: 'v1', ts: T0 });
      const o = tick(w, ts, 0.2);
      if (o) seen.push(o);
    }
    const before = seen.filter((o) => o.window.end < deployAt);
    assert.ok(before.length > 0 && before.every((o) => o.lastDeploy === undefined));
    assert.equal(factOf('deploy.ageSeconds', before[0]!), null, 'no deploy known: null');
    const late = seen.find((o) => o.window.end === deployAt + 300_000)!;
    assert.deepEqual(late.events, [], 'the deploy event has left the window');
    assert.equal(late.lastDeploy, deployAt);
    assert.equal(factsFor(late)['deploy.ageSeconds'], 300);
    assert.equal(factOf('deploy.ageSeconds', late), 300, 'the backtest reads what decide reads');
    assert.ok(observationSchema.parse(JSON.parse(JSON.stringify(late))).lastDeploy === deployAt);
    assert.equal(unknownFact('deploy.ageSeconds'), undefined, 'a fact rules may name');
    // A lastDeploy that is not a time goes to the schema, which names it.
    const bad = { ...JSON.parse(JSON.stringify(late)), lastDeploy: 'yesterday' };
    assert.equal(fastObservation(bad), undefined);
    const refused = observationSchema.safeParse(bad);
    assert.ok(!refused.success && refused.error.issues.some((i) => i.path[0] === 'lastDeploy'));
    // A newer deploy takes over.
    w.addEvent({ entity: ENTITY, kind: 'deploy', message: 'v3', ts: T0 + 401_000 });
    const next = tick(w, T0 + 405_000, 0.2)!;
    assert.equal(next.lastDeploy, T0 + 401_000);
  });

  it('events read ahead of the samples (a backlog) show each deploy from its own time on, as in time order', () => {
    const deploys = [T0 + 60_000, T0 + 200_000, T0 + 300_000];
    const ahead = newWindows();
    for (const ts of deploys) ahead.addEvent({ entity: ENTITY, kind: 'deploy', message: 'v', ts });
    const inOrder = newWindows();
    const got: Array<[number, number | undefined, number | undefined]> = [];
    for (let ts = T0; ts < T0 + 400_000; ts += 1000) {
      for (const d of deploys)
        if (d === ts) inOrder.addEvent({ entity: ENTITY, kind: 'deploy', message: 'v', ts });
      const a = tick(ahead, ts, 0.2);
      const b = tick(inOrder, ts, 0.2);
      if (a || b) got.push([ts, a?.lastDeploy, b?.lastDeploy]);
    }
    const at = (ts: number) => got.find((g) => g[0] === ts)!;
    assert.deepEqual(at(T0 + 55_000), [T0 + 55_000, undefined, undefined]);
    assert.deepEqual(at(T0 + 150_000), [T0 + 150_000, T0 + 60_000, T0 + 60_000], 'not the deploy read ahead');
    assert.deepEqual(at(T0 + 250_000), [T0 + 250_000, T0 + 200_000, T0 + 200_000]);
    assert.deepEqual(at(T0 + 395_000), [T0 + 395_000, T0 + 300_000, T0 + 300_000]);
    for (const [ts, a, b] of got) assert.equal(a, b, `${ts - T0}`);
  });

  it('decides once, again after the stale end (deploy 200 s old, not in the window), under a new id', async () => {
    const deployAt = T0 + 60_000;
    const got = await run(set, {
      deployAt,
      staleAt: deployAt + 2000 + DECISION_AGE_MS + 15_000,
      until: deployAt + 300_000,
    });
    assert.equal(got.length, 2, got.map((g) => g.decision.window.end).join(', '));
    const [first, second] = got as [(typeof got)[0], (typeof got)[0]];
    assert.equal(first.decision.action, 'rollback');
    assert.ok(
      first.obs.events.some((e) => e.kind === 'deploy'),
      'the first decision saw the deploy',
    );
    assert.equal(second.decision.action, 'rollback');
    assert.equal(second.decision.approval, 'none');
    assert.notEqual(second.decision.decisionId, first.decision.decisionId, 'a new workflow');
    assert.ok(
      second.obs.events.every((e) => e.kind !== 'deploy'),
      'decided on fresh input with no deploy in its window (the rule before #17 could not match it)',
    );
    const age = factOf('deploy.ageSeconds', second.obs) as number;
    assert.ok(age > 180 && age <= 600, `deploy.ageSeconds ${age}`);
    assert.ok(second.obs.window.start > deployAt, 'a window that starts after the deploy');
  });

  it('no second decision without a stale end (the cooldown holds), nor for a deploy over 10 minutes old', async () => {
    const deployAt = T0 + 60_000;
    const noStale = await run(set, { deployAt, until: deployAt + 300_000 });
    assert.equal(noStale.length, 1, 'one rollback while its remediation runs');

    // The remediation ends stale only 11 minutes after the deploy: the deploy no longer counts.
    const tooOld = await run(set, {
      deployAt,
      staleAt: deployAt + 660_000,
      until: deployAt + 700_000,
    });
    assert.equal(tooOld.length, 1, tooOld.map((g) => g.decision.window.end).join(', '));

    // Errors with no deploy ever: no rollback at all.
    const never = await run(set, {
      deployAt,
      staleAt: deployAt + 200_000,
      until: deployAt + 300_000,
      deploy: false,
    });
    assert.equal(never.length, 0);
  });
});
