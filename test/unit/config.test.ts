import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, topicNames } from '../../services/common/config.js';

describe('loadConfig', () => {
  it('gives defaults, parses durations and freezes the result', () => {
    const c = loadConfig({});
    assert.deepEqual(c.kafkaBrokers, ['127.0.0.1:9092']);
    assert.equal(c.window, 30_000);
    assert.equal(c.emitEvery, 5000);
    assert.ok(Object.isFrozen(c));
    assert.equal(topicNames(c).metrics, 'autoglm.metrics');
  });

  it('lists every problem at once, each named by its variable', () => {
    assert.throws(
      () =>
        loadConfig({
          KAFKA_BROKERS: 'nohostport',
          AUTOGLM_WINDOW: 'ten',
          AUTOGLM_TOPIC_PARTITIONS: '0',
          LOG_LEVEL: 'loud',
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const text = err.problems.join('\n');
        for (const name of ['KAFKA_BROKERS', 'AUTOGLM_WINDOW', 'AUTOGLM_TOPIC_PARTITIONS', 'LOG_LEVEL'])
          assert.match(text, new RegExp(name));
        assert.equal(err.problems.length, 4);
        return true;
      },
    );
  });

  it('refuses an emit interval longer than the window', () => {
    assert.throws(
      () => loadConfig({ AUTOGLM_WINDOW: '10s', AUTOGLM_EMIT_EVERY: '1m' }),
      /AUTOGLM_EMIT_EVERY must not exceed/,
    );
  });
});
