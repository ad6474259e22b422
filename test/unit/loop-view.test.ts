/**
 * The live view of `autoglm up`, fed by hand-made sources: off a terminal one JSON log line per
 * event; on a terminal plain lines, and with a (fake) terminal a status block redrawn above a
 * scroll region. Incidents the loop leaves alone say what to do or why nothing happens.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Decision, Verdict } from '../../services/common/contracts.js';
import type { Tapped } from '../../services/common/topic-tap.js';
import { workflowIdFor } from '../../services/decide/decision-id.js';
import type { ActionLogEntry, Incident } from '../../services/fleet/fleet-types.js';
import { LoopView, type LoopViewOptions } from '../../cli/loop-view.js';

const T0 = Date.UTC(2026, 11, 6, 18, 0, 0);

/** A tap as the view reads it: messages it empties, values it reads. */
class FakeTap {
  messages: Tapped[] = [];
  values<T>(): T[] {
    return this.messages.map((m) => m.value as T);
  }
  push(value: unknown): void {
    this.messages.push({ key: null, raw: null, value });
  }
}

const incident = (id: string, cls: Incident['class'], entity: string): Incident => ({
  id,
  class: cls,
  entity,
  service: entity.split('/')[0]!,
  source: 'schedule',
  startedAt: T0,
  rightActions: [],
  status: 'active',
  endedAt: null,
  recoveredAt: null,
  resolvedBy: null,
  actions: [],
});

const decision = (entity: string, rule: string, action: string, extra: Partial<Decision> = {}): Decision => ({
  decisionId: `${entity}-${rule}-0123456789abcdef`,
  entity,
  rule,
  ruleVersion: '1',
  mode: 'enforce',
  action,
  args: {},
  actuator: { type: 'http' },
  cooldown: '10m',
  approval: 'none',
  verify: { conditions: { all: [] }, within: '5m', stableFor: '1m' } as unknown as Decision['verify'],
  incident: null,
  facts: {},
  window: { start: T0, end: T0 + 30_000 },
  stale: false,
  ts: T0 + 31_000,
  ...extra,
});

const verdict = (
  d: Decision,
  outcome: Verdict['outcome'],
  evidence: Record<string, unknown> = {},
): Verdict => ({
  decisionId: d.decisionId,
  workflowId: workflowIdFor(d),
  entity: d.entity,
  rule: d.rule,
  action: d.action,
  outcome,
  evidence,
  ts: T0 + 90_000,
});

/** A view over fake sources, with everything it writes collected. */
function harness(opts: Partial<LoopViewOptions> = {}) {
  const incidents: Incident[] = [];
  const actions: ActionLogEntry[] = [];
  const taps = { observations: new FakeTap(), decisions: new FakeTap(), verdicts: new FakeTap() };
  const lines: string[] = [];
  const logged: Array<{ fields: Record<string, unknown>; msg: string }> = [];
  let now = T0 + 1000;
  const view = new LoopView(
    {
      incidents: () => incidents,
      actionsSince: (seq) => actions.filter((a) => a.seq > seq),
      ...taps,
    },
    {
      temporalUi: undefined,
      namespace: 'default',
      tty: false,
      logger: {
        info: (fields: Record<string, unknown>, msg: string) => logged.push({ fields, msg }),
      } as never,
      write: (line) => lines.push(line),
      now: () => now,
      ...opts,
    },
  );
  return { view, incidents, actions, taps, lines, logged, tick: (ms: number) => (now += ms) };
}

/** Three incidents the loop leaves alone: one waits for approval, one shadow, one absorbed by a cooldown. */
function leftAlone(h: ReturnType<typeof harness>) {
  h.incidents.push(
    incident('inc-1', 'bad_deploy', 'checkout/pod-1'),
    incident('inc-2', 'dependency_outage', 'search/pod-1'),
    incident('inc-3', 'cpu_saturation', 'batch/pod-2'),
  );
  h.view.poll();
  const approval = decision('checkout/pod-1', 'error-spike-after-deploy-rollback-tier1', 'rollback', {
    approval: 'required',
  });
  const shadow = decision('search/pod-1', 'dependency-outage-open-circuit-breaker', 'open_circuit_breaker', {
    mode: 'shadow',
  });
  const cpu = decision('batch/pod-2', 'cpu-saturation-scale-out', 'scale_out');
  for (const d of [approval, shadow, cpu]) h.taps.decisions.push(d);
  h.taps.verdicts.push(
    verdict(cpu, 'absorbed', {
      reason: `rule cpu-saturation-scale-out is cooling down on batch/pod-2 until ${new Date(T0 + 7 * 60_000).toISOString()} after remediate-x`,
    }),
  );
  h.view.poll();
  return { approval, shadow, cpu };
}

describe('the live view', () => {
  it('off a terminal: one JSON log line per event, saying what to do or why nothing happens', () => {
    const h = harness();
    const { approval } = leftAlone(h);
    assert.equal(h.lines.length, 0, 'nothing written as plain text');
    const byStep = (step: string) => h.logged.filter((l) => l.fields.step === step).map((l) => l.msg);
    assert.equal(byStep('injected').length, 3);
    assert.equal(byStep('decided').length, 3);
    assert.deepEqual(byStep('waiting'), [
      `waiting waiting for approval: autoglm approve ${workflowIdFor(approval)} --reason "…" (or autoglm reject; rule error-spike-after-deploy-rollback-tier1) — rollback on checkout/pod-1`,
    ]);
    assert.deepEqual(byStep('shadow'), [
      'shadow shadow mode: decided, not acted (rule dependency-outage-open-circuit-breaker) — open_circuit_breaker on search/pod-1',
    ]);
    assert.deepEqual(byStep('absorbed'), [
      'absorbed absorbed: cooldown of rule cpu-saturation-scale-out until 18:07 — scale_out on batch/pod-2 (inc-3)',
    ]);
    const absorbed = h.logged.find((l) => l.fields.step === 'absorbed')!.fields;
    assert.equal(absorbed.until, new Date(T0 + 7 * 60_000).toISOString());
    assert.ok(
      h.logged.every((l) => !l.msg.includes('\n')),
      'each event is one line',
    );

    // The scorecard counts them in their own columns, not as open.
    const summary = h.view.summary();
    const head = summary[1]!;
    assert.match(head, /absorbed\s+shadow\s+awaiting approval/);
    const total = summary[summary.length - 1]!.trim().split(/\s+/);
    // class incidents right wrong missed open absorbed shadow awaiting-approval …
    assert.deepEqual(total.slice(0, 9), ['total', '3', '0', '0', '0', '0', '1', '1', '1']);
  });

  it('tells an action of a remediation decided before this run from one of this run', () => {
    const h = harness();
    const { cpu } = leftAlone(h);
    const act = (seq: number, idempotencyKey: string): ActionLogEntry => ({
      seq,
      idempotencyKey,
      decisionId: null,
      entity: 'batch/pod-2',
      action: 'scale_out',
      args: {},
      at: T0 + 40_000,
      effective: true,
      incidentId: null,
      incidentClass: null,
      verdict: 'false_positive',
      changed: {},
    });
    h.actions.push(act(1, 'remediate-left-over-from-a-previous-run'), act(2, workflowIdFor(cpu)));
    h.view.poll();
    const acting = h.logged.filter((l) => l.fields.step === 'acting').map((l) => l.msg);
    assert.deepEqual(acting, [
      'acting scale_out on batch/pod-2: false_positive — decided before this run',
      'acting scale_out on batch/pod-2: false_positive',
    ]);
  });

  it('a progress line counts the incidents left alone apart', () => {
    const h = harness({ progressEveryMs: 10_000 });
    leftAlone(h);
    h.tick(10_000);
    h.view.poll();
    const progress = h.logged.filter((l) => l.fields.step === 'progress');
    assert.equal(progress.length, 1);
    assert.match(
      progress[0]!.msg,
      /3 incidents: 0 not decided yet, .* 1 absorbed, 1 shadow, 1 awaiting approval/,
    );
  });

  it('on a terminal without a status block: plain timestamped lines', () => {
    const h = harness({ tty: true });
    leftAlone(h);
    assert.equal(h.logged.length, 0);
    assert.ok(
      h.lines.some((l) =>
        /^\d\d:\d\d:\d\d waiting\s+waiting for approval: autoglm approve remediate-/.test(l),
      ),
    );
    assert.ok(h.lines.some((l) => /shadow mode: decided, not acted \(rule dependency-outage/.test(l)));
  });

  it('on a terminal: a status block redrawn above a scroll region, the events scrolling below', () => {
    const out: string[] = [];
    const terminal = { rows: 24, columns: 100, write: (s: string) => out.push(s) };
    const h = harness({ tty: true, terminal, seed: 42 });
    h.view.start(60_000);
    try {
      const setup = out.join('');
      assert.ok(setup.includes('\x1b[2J'), 'the screen is cleared once');
      assert.ok(setup.includes('\x1b[7;24r'), 'the region below the 6-line block scrolls');
      leftAlone(h);
      h.taps.decisions.push(decision('inc-free/pod-1', 'r', 'restart'));
      h.view.poll();
      // Event lines go to the region, each ending in a newline; nothing goes through `write`.
      assert.equal(h.lines.length, 0);
      assert.ok(
        out.some(
          (s) =>
            /^\d\d:\d\d:\d\d absorbed\s+absorbed: cooldown of rule cpu-saturation-scale-out until 18:07/.test(
              s,
            ) && s.endsWith('\n'),
        ),
      );
      // The block: drawn at rows 1-6 between a cursor save and restore.
      const frames = out.filter((s) => s.startsWith('\x1b7') && s.endsWith('\x1b8'));
      assert.ok(frames.length >= 2, `${frames.length} frames`);
      const last = frames[frames.length - 1]!;
      const rows = [...last.matchAll(/\x1b\[(\d+);1H\x1b\[2K([^\x1b]*)/g)].map(
        (m) => [Number(m[1]), m[2]!] as const,
      );
      assert.deepEqual(
        rows.map(([r]) => r),
        [1, 2, 3, 4, 5, 6],
      );
      const text = rows.map(([, t]) => t);
      assert.match(
        text[0]!,
        /^autoglm up 0m\d\ds · seed 42 · 3 incidents: 0 undecided, 0 in hand, 0 settled$/,
      );
      assert.equal(
        text[1],
        'left alone by design: 1 absorbed, 1 shadow, 1 awaiting approval, 0 noisy but healthy',
      );
      assert.match(text[2]!, /^in flight: restart inc-free\/pod-1 \(decided\)$/);
      assert.match(text[3]!, /^awaiting approval: autoglm approve remediate-checkout\/pod-1-error-spike/);
      assert.match(text[4]!, /^last verdicts: 18:01:30 absorbed scale_out batch\/pod-2/);
      assert.match(text[5]!, /^─{99}$/);
      assert.ok(
        text.every((t) => t.length <= 99),
        'no line wider than the terminal',
      );
      // Nothing new: no redraw.
      const before = out.length;
      h.view.poll();
      assert.equal(out.length, before);
    } finally {
      h.view.stop();
    }
    assert.ok(out[out.length - 1]!.startsWith('\x1b[r'), 'the whole screen is given back at the end');
  });

  it('on a terminal too small for the block: plain lines', () => {
    const out: string[] = [];
    const h = harness({ tty: true, terminal: { rows: 6, columns: 80, write: (s: string) => out.push(s) } });
    leftAlone(h);
    assert.equal(out.length, 0);
    assert.ok(h.lines.length >= 9);
  });
});
