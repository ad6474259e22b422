/**
 * One actuation per entity on the real services (real Kafka, Temporal and rules engine; only the
 * HTTP target is ours): under a burst of decisions, across restarts of decide and act, and within
 * the fleet-wide concurrency limit across two act workers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import type { Decision, Verdict } from '../../services/common/contracts.js';
import { startDecide } from '../../services/decide/main.js';
import { RemediationStarter } from '../../services/decide/workflow-starter.js';
import { produce } from '../support/kafka.js';
import { hotObservations, SafetyHarness } from '../support/safety-harness.js';

describe('one actuation per entity, within the fleet limits (real services)', () => {
  let h: SafetyHarness;
  before(async () => {
    h = await SafetyHarness.start({ maxConcurrentPerAction: '2' });
  });
  after(async () => {
    await h?.stop();
  });

  it('acts once on a burst of 200 decisions for one entity; the other 199 are absorbed', async () => {
    const act = await h.startAct();
    try {
      const e = h.entity('burst');
      const starter = new RemediationStarter(h.client, h.config);
      const now = Date.now();
      const burst = Array.from({ length: 200 }, (_, i) => h.decision(e, now - i));
      const started = await Promise.all(burst.map((d) => starter.start(d)));
      assert.equal(started.filter((s) => s.started).length, 200, 'every decision started its workflow');
      await h.verdicts.waitFor<Verdict>(() => h.verdictsFor(e).length >= 200, 120_000);
      const outcomes = h.verdictsFor(e).map((v) => v.outcome);
      assert.equal(
        outcomes.filter((o) => o === 'absorbed').length,
        199,
        JSON.stringify(outcomes.slice(0, 5)),
      );
      assert.equal(h.callsFor(e).length, 1, 'exactly one actuation reached the target');
      assert.equal(h.callsFor(e)[0]?.signed, true, 'and its HMAC signature checked out');
    } finally {
      await act.stop();
    }
  });

  it('still acts once when decide and act restart in the middle of a remediation', async () => {
    const e = h.entity('restart');
    h.holdFor.set(e, 3000); // the first action stays in flight across the restart
    let act = await h.startAct();
    let decide = await startDecide({ config: h.config, logger: h.logger, registry: new Registry() });
    const t0 = Date.now();
    const ends = [t0 - 200, t0 - 100];
    try {
      await produce(
        h.producer,
        h.topics.observations,
        hotObservations(e, ends.slice(0, 1)).map((o) => ({ key: e, value: o })),
      );
      const deadline = Date.now() + 30_000;
      while (h.callsFor(e).length === 0 && Date.now() < deadline) await sleep(50);
      assert.equal(h.callsFor(e).length, 1, 'the first remediation is acting');

      await decide.stop();
      await act.stop(); // waits for the in-flight action to finish
      act = await h.startAct();
      decide = await startDecide({ config: h.config, logger: h.logger, registry: new Registry() });
      // A new window of the same incident: the restarted decide has no memory of the first.
      await produce(h.producer, h.topics.observations, [{ key: e, value: hotObservations(e, ends)[1]! }]);
      const second = await h.decisions.waitFor<Decision>(
        (d) => d.entity === e && d.window.end === ends[1],
        30_000,
      );
      const verdict = await h.verdicts.waitFor<Verdict>((v) => v.decisionId === second.decisionId, 30_000);
      assert.equal(verdict.outcome, 'absorbed');
      assert.match(String(verdict.evidence.reason), /is in flight|is cooling down/);
      await h.verdicts.waitFor<Verdict>((v) => v.entity === e && v.outcome !== 'absorbed', 30_000);
      assert.equal(h.callsFor(e).length, 1, 'one actuation in all');
    } finally {
      await decide.stop();
      await act.stop();
    }
  });

  it('keeps at most 2 actions at the target with two act workers and five entities on fire', async () => {
    const acts = [await h.startAct(), await h.startAct()];
    try {
      const fleet = [1, 2, 3, 4, 5].map((i) => h.entity(`fleet${i}`));
      for (const e of fleet) h.holdFor.set(e, 1500);
      const starter = new RemediationStarter(h.client, h.config);
      const now = Date.now();
      const peakBefore = h.target.maxInFlight;
      // CPU back to normal on all five, as sense would publish it: each remediation holds its slot
      // until its verdict, and is verified 1 s after its action instead of expiring (2 s + a 6 s grace).
      let cooling = true;
      const cool = (async () => {
        for (let seq = 0; cooling; seq++) {
          const end = Date.now();
          await produce(
            h.producer,
            h.topics.observations,
            fleet.map((e) => ({
              key: e,
              value: { ...hotObservations(e, [end])[0]!, seq, features: { 'cpu.avg': 40, 'cpu.count': 6 } },
            })),
          );
          await sleep(250);
        }
      })();
      try {
        await Promise.all(fleet.map((e) => starter.start(h.decision(e, now))));
        for (const e of fleet) await h.verdicts.waitFor<Verdict>((v) => v.entity === e, 90_000);
      } finally {
        cooling = false;
        await cool;
      }
      for (const e of fleet) assert.equal(h.callsFor(e).length, 1, `one action for ${e}`);
      assert.ok(peakBefore <= 2);
      assert.equal(h.target.maxInFlight, 2, 'never more than 2 actions at the target at once');
      const deferred = fleet.map((e) => h.verdictsFor(e)[0]!).filter((v) => v.evidence.deferred);
      assert.ok(deferred.length >= 1, 'the ones that waited say why in their verdict');
      assert.match(JSON.stringify(deferred[0]!.evidence.deferred), /scale_out actions in flight/);
    } finally {
      for (const a of acts) await a.stop();
    }
  });
});
