import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { VerdictPublishing } from '../../services/act/verdict-publishing.js';

describe('VerdictPublishing', () => {
  it('counts failed publishes, shows the stuck verdicts, and turns unhealthy past the alarm', async () => {
    let now = 1_000_000;
    const registry = new Registry();
    const p = new VerdictPublishing(registry, 120_000, () => now);
    const gauge = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values[0]?.value;
    const down = () => Promise.reject(new Error('broker unreachable'));
    await assert.rejects(p.publish('wf-1', down), /broker unreachable/);
    now += 60_000;
    await assert.rejects(p.publish('wf-1', down));
    await assert.rejects(p.publish('wf-2', down));
    assert.equal(await gauge('autoglm_act_verdicts_unpublished'), 2);
    assert.equal(await gauge('autoglm_act_verdict_publish_failures_total'), 3);
    assert.equal(
      await gauge('autoglm_act_verdict_publish_failing_seconds'),
      60,
      'counted from the first failure',
    );
    assert.equal(p.healthy(), true);
    now += 61_000;
    assert.equal(p.healthy(), false, 'a verdict stuck for over 2 minutes');
    await p.publish('wf-1', () => Promise.resolve());
    assert.equal(p.healthy(), true, 'wf-2 has failed only for 61s');
    assert.equal(await gauge('autoglm_act_verdicts_unpublished'), 1);
    await p.publish('wf-2', () => Promise.resolve());
    assert.equal(await gauge('autoglm_act_verdicts_unpublished'), 0);
    assert.equal(await gauge('autoglm_act_verdict_publish_failing_seconds'), 0);
  });
});
