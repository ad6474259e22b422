/**
 * Alerts as facts: sense keeps the alerts firing for an entity (from ingest's Alertmanager events)
 * until they resolve, whatever the window, and puts them on its observations; rules and `rules
 * check` know `alerts`, `alerts.firing`, `alerts.names` and `alerts.severities`; a real
 * json-rules-engine run says "KubePodCrashLooping fires and memory is far above its normal".
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Engine } from 'json-rules-engine';
import { observationSchema, type OpsEvent } from '../../services/common/contracts.js';
import { factOf, factsFor } from '../../services/common/facts.js';
import { unknownFact } from '../../services/common/facts-reference.js';
import { MAX_FIRING_ALERTS } from '../../services/sense/firing-alerts.js';
import { EntityWindows } from '../../services/sense/windows.js';

const T0 = 1_800_000_000_000;
const alertEvent = (status: 'firing' | 'resolved', over: Record<string, string> = {}, ts = T0): OpsEvent => ({
  entity: 'checkout/pod-1',
  kind: 'alert',
  message: `KubePodCrashLooping ${status}`,
  ts,
  attrs: {
    status,
    alertname: 'KubePodCrashLooping',
    severity: 'critical',
    fingerprint: 'd5b99b6c4d018104',
    startsAt: new Date(T0).toISOString(),
    label_namespace: 'checkout',
    label_pod: 'pod-1',
    ...over,
  },
});

function observe(events: OpsEvent[], sampleAt: number) {
  const w = new EntityWindows({
    windowMs: 10_000,
    emitEveryMs: 1000,
    maxMetricsPerEntity: 16,
    maxEntities: 10,
  });
  for (const e of events) w.addEvent(e);
  w.addSample({ entity: 'checkout/pod-1', metric: 'mem', value: 97, ts: sampleAt - 1000 });
  const out = w.addSample({ entity: 'checkout/pod-1', metric: 'mem', value: 97, ts: sampleAt });
  assert.equal(out.kind, 'observation');
  return out.kind === 'observation' ? out.observation : undefined!;
}

describe('alerts as facts', () => {
  it('keeps a firing alert on the observations until it resolves, long after its event left the window', () => {
    const later = T0 + 60_000; // six windows on
    const obs = observe([alertEvent('firing')], later);
    assert.equal(observationSchema.safeParse(obs).success, true);
    assert.deepEqual(obs.events, [], 'the event itself is out of the window');
    assert.deepEqual(obs.alerts, [
      {
        name: 'KubePodCrashLooping',
        severity: 'critical',
        since: T0,
        labels: { namespace: 'checkout', pod: 'pod-1' },
      },
    ]);
    const resolved = observe([alertEvent('firing'), alertEvent('resolved', {}, T0 + 5000)], later);
    assert.equal(resolved.alerts, undefined);
  });

  it('ignores alert events without a status and fingerprint (simulated ones) and bounds what it keeps', () => {
    const simulated: OpsEvent = {
      entity: 'checkout/pod-1',
      kind: 'alert',
      message: 'CPUThrottlingHigh',
      ts: T0,
    };
    assert.equal(observe([simulated], T0 + 2000).alerts, undefined);
    const many = Array.from({ length: MAX_FIRING_ALERTS + 5 }, (_, i) =>
      alertEvent('firing', {
        fingerprint: `f${i}`,
        alertname: `A${i}`,
        startsAt: new Date(T0 + i * 1000).toISOString(),
      }),
    );
    const obs = observe(many, T0 + 30_000);
    assert.equal(obs.alerts?.length, MAX_FIRING_ALERTS);
    assert.equal(obs.alerts?.[0]?.name, 'A5', 'the longest-firing beyond the bound are forgotten');
  });

  it('gives rules alerts, alerts.firing, alerts.names and alerts.severities, the same through factOf', () => {
    const obs = observe(
      [
        alertEvent('firing'),
        alertEvent('firing', { fingerprint: 'x', alertname: 'FleetMemoryHigh', severity: 'warning' }),
      ],
      T0 + 3000,
    );
    const facts = factsFor(obs);
    assert.equal(facts['alerts.firing'], 2);
    // Both since T0: longest-firing first, then by name.
    assert.deepEqual(facts['alerts.names'], ['FleetMemoryHigh', 'KubePodCrashLooping']);
    assert.deepEqual(facts['alerts.severities'], ['warning', 'critical']);
    for (const name of ['alerts', 'alerts.firing', 'alerts.names', 'alerts.severities'])
      assert.deepEqual(factOf(name, obs), facts[name], name);
    const quiet = factsFor(observe([], T0 + 3000));
    assert.equal(quiet['alerts.firing'], 0);
    assert.deepEqual(quiet['alerts.names'], []);
  });

  it('is known to rules check, which suggests the name on a typo', () => {
    for (const name of ['alerts', 'alerts.firing', 'alerts.names', 'alerts.severities'])
      assert.equal(unknownFact(name), undefined, name);
    assert.match(unknownFact('alerts.name') ?? '', /did you mean "alerts\.names"\?/);
  });

  it('lets a rule say "KubePodCrashLooping fires and memory is far above its normal" (json-rules-engine)', async () => {
    const engine = new Engine([], { allowUndefinedFacts: true });
    engine.addRule({
      conditions: {
        all: [
          { fact: 'alerts.names', operator: 'contains', value: 'KubePodCrashLooping' },
          { fact: 'mem.avg', operator: 'greaterThan', value: 90 },
        ],
      },
      event: { type: 'remediate' },
    });
    const firing = await engine.run(factsFor(observe([alertEvent('firing')], T0 + 3000)));
    assert.equal(firing.events.length, 1);
    const resolved = await engine.run(
      factsFor(observe([alertEvent('firing'), alertEvent('resolved', {}, T0 + 1000)], T0 + 3000)),
    );
    assert.equal(resolved.events.length, 0);
  });
});
