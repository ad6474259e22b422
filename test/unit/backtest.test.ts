import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../../infra/paths.js';
import { runBacktest } from '../../services/backtest/backtest.js';
import { backtestCommand } from '../../cli/backtest-command.js';
import { UsageError } from '../../cli/remediation-commands.js';
import { diffDecisions, resolveBaseline } from '../../services/backtest/compare.js';
import { budgetLimitsOf, replayGuards } from '../../services/backtest/guards.js';
import { buildReport } from '../../services/backtest/report.js';
import { loadBacktestRules } from '../../services/backtest/run.js';
import { loadConfig } from '../../services/common/config.js';
import type { MetricSample } from '../../services/common/contracts.js';
import { parseRuleFile } from '../../services/decide/rule-file.js';
import { ruleSetOf } from '../../services/decide/rule-set.js';
import type { BacktestDecision } from '../../services/backtest/backtest.js';
import type { Recording } from '../../services/backtest/recording.js';

const STEP = 5 * 60_000;
const T0 = Date.UTC(2024, 0, 1);
const at = (i: number) => T0 + i * STEP;
/** A 15-minute window holds three 5-minute samples: the rules' `cpu.count ≥ 3` can hold. */
const config = loadConfig({}, { window: '15m', modelDir: 'off' });

/**
 * Three hosts, 300 five-minute samples each (25 hours): cpu 30 ± 5 (a sine, no randomness); host
 * "hot" at 99 for samples 200..205 (30 minutes).
 */
function generated(): Recording {
  const samples: MetricSample[] = [];
  for (let i = 0; i < 300; i++)
    for (const entity of ['hot', 'calm-1', 'calm-2']) {
      const spike = entity === 'hot' && i >= 200 && i <= 205;
      samples.push({ entity, metric: 'cpu', value: spike ? 99 : 30 + 5 * Math.sin(i / 7), ts: at(i) });
    }
  return {
    samples,
    events: [],
    problems: [],
    outOfOrder: { count: 0 },
    lines: samples.length,
    files: ['gen'],
  };
}

/** The static CPU rule fixture (cpu.avg > 85, cpu.count ≥ 3; cooldown 10m; verify within 5m) with its threshold set. */
function staticRule(threshold: number) {
  const file = path.join(repoRoot, 'test', 'fixtures', 'rules', 'cpu-static.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  json.conditions.all[0].value = threshold;
  const parsed = parseRuleFile(file, JSON.stringify(json));
  assert.ok('rule' in parsed, JSON.stringify(parsed));
  return ruleSetOf([parsed.rule]);
}

const labels = new Map([
  ['hot', [[at(200), at(212)] as const]],
  ['calm-1', []],
  ['calm-2', []],
]);

describe('backtest', () => {
  it('replays generated samples through sense and decide on event time: the spike decided, nothing else', async () => {
    const recording = generated();
    const run = await runBacktest(recording, { config, ruleSet: staticRule(85) });
    assert.equal(run.samples, 900);
    assert.equal(run.observations, 900); // every 5-minute sample opens a new 5s emission bucket
    // Window averages on hot: (99,c,c) ≈ 53, (99,99,c) ≈ 76, then 99 from sample 202 to 205. A
    // decision at 202; decide's 10m cooldown gate holds back 203, admits 204, holds back 205.
    assert.deepEqual(
      run.decisions.map((d) => [d.entity, d.ts]),
      [
        ['hot', at(202)],
        ['hot', at(204)],
      ],
    );
    assert.deepEqual(run.suppressed, { 'cpu-saturation-scale-out': 2 });
    assert.equal(run.stale, 0);
    const guards = replayGuards(run.decisions, budgetLimitsOf(config));
    // 202 acts and holds the entity until 203 (verify within 5m), then the rule cools down 10m
    // from there (until 205): the decision at 204 is absorbed by the entity guard's cooldown.
    assert.deepEqual(guards, {
      shadow: 0,
      acted: 1,
      inFlight: 0,
      coolingDown: 1,
      deferred: 0,
      deniedByBudget: 0,
    });

    const report = buildReport(recording, run, guards, labels);
    const l = report.labels!;
    assert.equal(l.caught, 1);
    assert.equal(l.outside, 0);
    assert.equal(l.medianDelayMs, 2 * STEP);
    // NAB: rows 0..299, probation 45, window rows 200..212 (width 13), first detection row 202:
    // σs(-(212-202+1)/13) / σs(-1) = 0.984513; normalised over null -1, perfect 1: 99.2256
    assert.ok(Math.abs(l.nab.standard - 99.2256412768728) < 1e-9, String(l.nab.standard));
    assert.deepEqual(report.decisions.byEntity, { hot: 2 });
  });

  it('--baseline: two rule sets that differ by one threshold, decisions gained and lost exactly', async () => {
    const recording = generated();
    const base = await runBacktest(recording, { config, ruleSet: staticRule(85) });
    const cand = await runBacktest(recording, { config, ruleSet: staticRule(70) });
    // At > 70 the window (99,99,c) ≈ 76 already decides: 201, then (10m gate) 203 and 205.
    const diff = diffDecisions(base.decisions, cand.decisions);
    assert.deepEqual(
      diff.gained.map((d) => d.ts),
      [at(201), at(203), at(205)],
    );
    assert.deepEqual(
      diff.lost.map((d) => d.ts),
      [at(202), at(204)],
    );
    assert.equal(diff.same, 0);
    assert.deepEqual(diff.moved, []);
    assert.deepEqual(diffDecisions(base.decisions, base.decisions), {
      gained: [],
      lost: [],
      moved: [],
      same: 2,
    });
    // Within 5 minutes, 202 moved to 201 and 204 to 203 (each to the nearest); 205 stays gained.
    const moved = diffDecisions(base.decisions, cand.decisions, STEP);
    assert.deepEqual(
      moved.moved.map((m) => [m.before.ts, m.after.ts, m.byMs]),
      [
        [at(202), at(201), -STEP],
        [at(204), at(203), -STEP],
      ],
    );
    assert.deepEqual(
      moved.gained.map((d) => d.ts),
      [at(205)],
    );
    assert.deepEqual(moved.lost, []);
  });

  it('--baseline <git ref>: the rules as committed there, against the current ones, gained and lost exactly', async () => {
    const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'backtest-baseline-'));
    // A temp folder of this test's own: CI runs this file on two nodes at once over one /tmp, and
    // "nothing extracted is left behind" must not see the other run's extraction.
    const ownTmp = fs.mkdtempSync(path.join(os.tmpdir(), 'backtest-tmp-'));
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = ownTmp;
    try {
      assert.equal(os.tmpdir(), ownTmp);
      const rules = path.join(repo, 'policy');
      fs.mkdirSync(rules);
      const rule = (threshold: number) => {
        const json = JSON.parse(
          fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'rules', 'cpu-static.json'), 'utf8'),
        );
        json.$schema = undefined;
        json.conditions.all[0].value = threshold;
        fs.writeFileSync(path.join(rules, 'cpu.json'), JSON.stringify(json));
      };
      const git = (...args: string[]) =>
        execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {
          cwd: repo,
          stdio: 'ignore',
        });
      git('init', '-q');
      rule(85);
      git('add', '.');
      git('commit', '-q', '-m', 'at 85');
      rule(70);
      git('commit', '-q', '-am', 'at 70');
      const recording = path.join(repo, 'samples.jsonl');
      fs.writeFileSync(
        recording,
        generated()
          .samples.map((x) => JSON.stringify(x))
          .join('\n'),
      );
      const out: string[] = [];
      const io = { out: (t: string) => out.push(t), err: (t: string) => out.push(t) };
      const extracted = () =>
        fs
          .readdirSync(os.tmpdir())
          .filter((f) => f.startsWith('autoglm-baseline-'))
          .sort();
      const before = extracted();
      const code = await backtestCommand(
        [
          recording,
          '--rules',
          rules,
          '--model',
          'off',
          '--baseline',
          'HEAD~1',
          '--moved-within',
          '0s',
          '--json',
        ],
        io,
        config,
      );
      assert.equal(code, 0, out.join('\n'));
      const report = JSON.parse(out.join('\n'));
      assert.equal(report.baseline.source.kind, 'git');
      assert.match(report.baseline.source.label, /^git HEAD~1 \([0-9a-f]{12}: policy\/\)$/);
      // The same as the two rule sets above: the committed 85 is the baseline, the current 70 the candidate.
      assert.deepEqual(
        report.baseline.gained.map((d: BacktestDecision) => d.ts),
        [at(201), at(203), at(205)],
      );
      assert.deepEqual(
        report.baseline.lost.map((d: BacktestDecision) => d.ts),
        [at(202), at(204)],
      );
      assert.equal(report.baseline.report.decisions.total, 2);
      assert.equal(report.decisions.total, 3);
      // The text report: side by side, then the changes with examples.
      out.length = 0;
      await backtestCommand(
        [recording, '--rules', rules, '--model', 'off', '--baseline', 'HEAD~1'],
        io,
        config,
      );
      const text = out.join('\n');
      assert.match(text, /decisions +2 +3 +\+1/);
      assert.match(
        text,
        /1 decisions gained, 0 lost, 2 moved \(same entity and rule within 1h\), 0 the same/,
      );
      assert.match(text, /~ 2024-01-01T16:50:00.000Z → 2024-01-01T16:45:00.000Z \(earlier by 5m\) hot/);
      // Nothing extracted is left behind.
      assert.deepEqual(extracted(), before);
    } finally {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
      fs.rmSync(ownTmp, { recursive: true, force: true });
      fs.rmSync(repo, { recursive: true, force: true });
    }
  });

  it('--baseline: a model folder or a rules folder as such, and what is neither named', () => {
    const current = { rulesDir: path.join(repoRoot, 'rules'), modelDir: 'off' };
    const model = resolveBaseline(path.join(repoRoot, 'models', 'incident'), current);
    assert.equal(model.kind, 'model');
    assert.equal(model.rulesDir, current.rulesDir);
    assert.equal(model.modelDir, path.join(repoRoot, 'models', 'incident'));
    const rules = resolveBaseline(path.join(repoRoot, 'test', 'fixtures', 'rules'), current);
    assert.equal(rules.kind, 'rules');
    assert.equal(rules.modelDir, 'off');
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'backtest-empty-'));
    try {
      assert.throws(() => resolveBaseline(empty, current), /neither rule files \(\*\.json\) nor a model/);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
    assert.throws(
      () => resolveBaseline('no-such-ref-or-folder', current),
      /--baseline no-such-ref-or-folder: neither a folder \(rules or model\) nor a git ref of /,
    );
    return assert.rejects(
      backtestCommand(
        ['x.jsonl', '--baseline', 'main', '--moved-within', 'soon'],
        { out() {}, err() {} },
        config,
      ),
      (err: unknown) =>
        err instanceof UsageError && /--moved-within: "soon" is not a duration/.test(String(err)),
    );
  });

  it('the starter rules (baselines on) decide on the spike and nowhere else', async () => {
    const ruleSet = await loadBacktestRules(path.join(repoRoot, 'rules'), config);
    const run = await runBacktest(generated(), { config, ruleSet });
    assert.ok(run.decisions.length > 0, 'the spike is far above every normal');
    for (const d of run.decisions) {
      assert.equal(d.entity, 'hot');
      assert.ok(d.ts >= at(200) && d.ts <= at(207), new Date(d.ts).toISOString());
    }
  });

  it("the guards' own state: one remediation in flight per entity, and the budget's slots, on event time", () => {
    const decision = (
      entity: string,
      i: number,
      mode: 'enforce' | 'shadow' = 'enforce',
    ): BacktestDecision => ({
      decisionId: `${entity}-${i}`,
      entity,
      rule: 'r',
      action: 'scale_out',
      mode,
      approval: 'none',
      cooldown: '0s',
      verify: { conditions: { all: [] }, within: '10m', stableFor: '1m' } as BacktestDecision['verify'],
      window: { start: at(i) - STEP, end: at(i) },
      ts: at(i),
    });
    const limits = {
      maxConcurrentPerAction: 2,
      maxConcurrentPerRule: 5,
      maxActionsPerPeriod: 20,
      periodMs: 3_600_000,
      maxDeferred: 100,
    };
    // a at 0 holds a until 2 (10m); a at 1 is denied (in flight); b and c at 0: c waits for a slot
    // (2 scale_out at once) and acts when a's lease ends; the shadow decision asks nobody.
    const ds = [
      decision('a', 0),
      decision('b', 0),
      decision('c', 0),
      decision('a', 1),
      decision('d', 1, 'shadow'),
    ];
    assert.deepEqual(replayGuards(ds, limits), {
      shadow: 1,
      acted: 3,
      inFlight: 1,
      coolingDown: 0,
      deferred: 1,
      deniedByBudget: 0,
    });
    // No room to wait: c is denied by the budget at once.
    assert.deepEqual(replayGuards(ds, { ...limits, maxDeferred: 0 }), {
      shadow: 1,
      acted: 2,
      inFlight: 1,
      coolingDown: 0,
      deferred: 0,
      deniedByBudget: 1,
    });
  });
});
