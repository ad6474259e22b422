/**
 * The consumer group's session knob and the heartbeats kept up during a batch handler's long work
 * (sense's changelog restore on join): a fake heartbeat here, the real group in
 * test/e2e/sense-failover.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, loadConfig } from '../../services/common/config.js';
import { heartbeatIntervalMs, whileHeartbeating } from '../../services/common/kafka.js';

describe('AUTOGLM_KAFKA_SESSION_TIMEOUT', () => {
  it('defaults to 10s, heartbeats a third of it apart at most 3s', () => {
    assert.equal(loadConfig({}).kafkaSessionTimeout, 10_000);
    assert.equal(loadConfig({ AUTOGLM_KAFKA_SESSION_TIMEOUT: '45s' }).kafkaSessionTimeout, 45_000);
    assert.equal(heartbeatIntervalMs(10_000), 3000);
    assert.equal(heartbeatIntervalMs(6000), 2000);
  });

  it('refuses a value the broker refuses or that holds partitions for long, with the others', () => {
    for (const [value, message] of [
      ['5s', /AUTOGLM_KAFKA_SESSION_TIMEOUT="5s": must be at least 6s/],
      ['10m', /AUTOGLM_KAFKA_SESSION_TIMEOUT="10m": must be at most 5m/],
      ['soon', /AUTOGLM_KAFKA_SESSION_TIMEOUT="soon": must be a duration/],
    ] as const) {
      assert.throws(
        () => loadConfig({ AUTOGLM_KAFKA_SESSION_TIMEOUT: value, AUTOGLM_WINDOW: 'ten' }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.problems.join('\n'), message);
          assert.match(err.problems.join('\n'), /AUTOGLM_WINDOW/);
          return true;
        },
      );
    }
  });
});

describe('whileHeartbeating', () => {
  it('heartbeats while the work runs, and stops when it is done', async () => {
    let beats = 0;
    const value = await whileHeartbeating(
      async () => {
        beats++;
      },
      sleep(230, 'restored'),
      { everyMs: 20 },
    );
    assert.equal(value, 'restored');
    assert.ok(beats >= 3 && beats <= 12, `${beats} heartbeats in 230ms, one per 20ms`);
    const after = beats;
    await sleep(80);
    assert.equal(beats, after, 'no heartbeat after the work');
  });

  it('throws at once when the group rebalances, without waiting for the work', async () => {
    const rebalancing = Object.assign(new Error('The group is rebalancing'), {
      type: 'REBALANCE_IN_PROGRESS',
    });
    const started = Date.now();
    let beats = 0;
    await assert.rejects(
      whileHeartbeating(
        async () => {
          if (++beats === 2) throw rebalancing;
        },
        sleep(5000),
        { everyMs: 20 },
      ),
      (err) => err === rebalancing,
    );
    assert.ok(Date.now() - started < 1000, 'did not wait for the work');
  });

  it('keeps beating past another heartbeat error, and passes the work error on', async () => {
    let beats = 0;
    const work = sleep(150).then(() => {
      throw new Error('restore failed');
    });
    await assert.rejects(
      whileHeartbeating(
        async () => {
          beats++;
          throw Object.assign(new Error('connection reset'), { type: 'NETWORK' });
        },
        work,
        { everyMs: 20 },
      ),
      /restore failed/,
    );
    assert.ok(beats >= 4, `${beats} heartbeats: a network error stopped none`);
  });

  it('without abandon, waits for the work beating on, then throws the rebalance', async () => {
    const rebalancing = Object.assign(new Error('The group is rebalancing'), {
      type: 'REBALANCE_IN_PROGRESS',
    });
    let beats = 0;
    let finished = false;
    const work = sleep(200).then(() => {
      finished = true;
    });
    await assert.rejects(
      whileHeartbeating(
        async () => {
          if (++beats >= 2) throw rebalancing;
        },
        work,
        { everyMs: 20, abandon: false },
      ),
      (err) => err === rebalancing,
    );
    assert.ok(finished, 'the work was waited for');
    assert.ok(beats >= 4, `${beats} heartbeats: they went on after the first rebalance answer`);
  });
});
