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

  it('lists format, range and cross-setting problems in one pass, a refused setting only once', () => {
    assert.throws(
      () =>
        loadConfig({
          // Refused on their own (format).
          AUTOGLM_TOPIC_PARTITIONS: 'three',
          AUTOGLM_BASELINE: 'maybe',
          AUTOGLM_CONSOLE_RANGE: 'soon',
          AUTOGLM_INGEST_HOST: 'everywhere',
          // Fine on their own, refused together or by range: listed with the above, not after them.
          AUTOGLM_WINDOW: '10s',
          AUTOGLM_EMIT_EVERY: '1m',
          AUTOGLM_EPISODE_IDLE: '0s',
          AUTOGLM_INGEST_MAX_BODY_BYTES: '8388608',
          AUTOGLM_INGEST_MAX_DECODED_BYTES: '4194304',
          // Checked against AUTOGLM_INGEST_HOST, which is refused: no second problem for it.
          AUTOGLM_INGEST_AUTH: 'none',
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [
          'AUTOGLM_TOPIC_PARTITIONS="three": must be a whole number from 1 to 1000, such as 3',
          'AUTOGLM_BASELINE="maybe": must be "on" or "off"',
          'AUTOGLM_INGEST_HOST="everywhere": must be an IP address such as 127.0.0.1 or 0.0.0.0',
          'AUTOGLM_CONSOLE_RANGE="soon": must be a duration such as "6h"',
          'AUTOGLM_EMIT_EVERY must not exceed AUTOGLM_WINDOW (1m > 10s): shorten AUTOGLM_EMIT_EVERY or lengthen AUTOGLM_WINDOW',
          'AUTOGLM_EPISODE_IDLE must be longer than 0 (got 0s), such as "1h"',
          'AUTOGLM_INGEST_MAX_DECODED_BYTES must be at least AUTOGLM_INGEST_MAX_BODY_BYTES (4194304 < 8388608): raise the first or lower the second',
        ]);
        return true;
      },
    );
  });

  it('checks the http URLs against the allowlist beside other problems, not a URL refused on its own', () => {
    assert.throws(
      () =>
        loadConfig({
          AUTOGLM_TOPIC_PARTITIONS: '0',
          AUTOGLM_HTTP_ALLOWED_ORIGINS: 'https://ops.example.com',
          AUTOGLM_HTTP_ACTUATOR_URL: 'not a url',
          AUTOGLM_ALERTMANAGER_URL: 'http://am.example.com:9093',
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [
          'AUTOGLM_TOPIC_PARTITIONS="0": must be at least 1',
          'AUTOGLM_HTTP_ACTUATOR_URL="not a url": must be an http(s) URL',
          'AUTOGLM_ALERTMANAGER_URL: refused URL http://am.example.com:9093/: origin http://am.example.com:9093 is not in AUTOGLM_HTTP_ALLOWED_ORIGINS (allowed: https://ops.example.com)',
        ]);
        return true;
      },
    );
    // No allowlist given: a URL of another scheme is said of the URL, not of an allowlist nobody wrote.
    assert.throws(
      () => loadConfig({ AUTOGLM_HTTP_ACTUATOR_URL: 'ftp://files.example.com/x' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [
          'AUTOGLM_HTTP_ACTUATOR_URL: refused URL ftp://files.example.com/x: scheme ftp: is not allowed (http: or https: only)',
        ]);
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

  it('allows only the default actuator URL origin unless an allowlist is given, and checks the URL against it', () => {
    assert.deepEqual(loadConfig({}).httpAllowedOrigins, ['http://127.0.0.1:8090']);
    const c = loadConfig({
      AUTOGLM_HTTP_ALLOWED_ORIGINS: 'https://OPS.example.com:443/, http://127.0.0.1:8090',
    });
    assert.deepEqual(c.httpAllowedOrigins, ['https://ops.example.com', 'http://127.0.0.1:8090']);
    assert.throws(
      () =>
        loadConfig({
          AUTOGLM_HTTP_ALLOWED_ORIGINS: 'https://ops.example.com,file:///etc',
          AUTOGLM_HTTP_ACTUATOR_URL: 'http://169.254.169.254/latest',
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.problems.join('\n'), /AUTOGLM_HTTP_ALLOWED_ORIGINS entry "file:/);
        return true;
      },
    );
    assert.throws(
      () =>
        loadConfig({
          AUTOGLM_HTTP_ALLOWED_ORIGINS: 'https://ops.example.com',
          AUTOGLM_HTTP_ACTUATOR_URL: 'http://169.254.169.254/latest',
        }),
      /AUTOGLM_HTTP_ACTUATOR_URL: refused URL http:\/\/169\.254\.169\.254\/latest: origin .* is not in AUTOGLM_HTTP_ALLOWED_ORIGINS/,
    );
  });

  it('never echoes a password or token from a bad setting', () => {
    assert.throws(
      () => loadConfig({ AUTOGLM_HTTP_ACTUATOR_URL: 'http://admin:hunter2@ops.example.com/x?token=abc' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.doesNotMatch(err.message, /hunter2|token=abc/);
        assert.match(err.message, /carries credentials/);
        return true;
      },
    );
  });

  it('reads AUTOGLM_COMMAND_USER as numeric uid:gid, empty by default', () => {
    assert.equal(loadConfig({}).commandUser, '');
    assert.equal(loadConfig({ AUTOGLM_COMMAND_USER: '65534:65534' }).commandUser, '65534:65534');
    assert.throws(
      () => loadConfig({ AUTOGLM_COMMAND_USER: 'nobody' }),
      /AUTOGLM_COMMAND_USER="nobody": must be numeric uid:gid such as 65534:65534/,
    );
  });

  it('never echoes credentials written into KAFKA_BROKERS or TEMPORAL_ADDRESS, nor a query in the actuator URL', () => {
    assert.throws(
      () =>
        loadConfig({
          KAFKA_BROKERS: 'alice:hunter2@kafka-1:9092',
          TEMPORAL_ADDRESS: 'svc:s3cret@temporal:7233',
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.doesNotMatch(err.message, /hunter2|alice|s3cret|svc:|token=abc/);
        assert.match(err.message, /KAFKA_BROKERS="\[redacted\]@kafka-1:9092"/);
        assert.match(err.message, /TEMPORAL_ADDRESS="\[redacted\]@temporal:7233"/);
        return true;
      },
    );
    assert.throws(
      () => loadConfig({ AUTOGLM_HTTP_ACTUATOR_URL: 'http://127.0.0.1:8090/actuate?token=abc' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /AUTOGLM_HTTP_ACTUATOR_URL: .*has a query or fragment/);
        assert.doesNotMatch(err.message, /token=abc/);
        return true;
      },
    );
  });

  it('parses the guard and blast-radius limits with conservative defaults', () => {
    const c = loadConfig({});
    assert.equal(c.maxDecisionAge, 180_000);
    assert.equal(c.approvalTimeout, 1_800_000);
    assert.deepEqual(
      [
        c.maxConcurrentPerAction,
        c.maxConcurrentPerRule,
        c.maxActionsPerPeriod,
        c.actionsPeriod,
        c.maxDeferred,
      ],
      [5, 5, 20, 600_000, 100],
    );
    assert.throws(
      () => loadConfig({ AUTOGLM_MAX_CONCURRENT_PER_ACTION: '0', AUTOGLM_MAX_DECISION_AGE: 'soon' }),
      (err: unknown) => err instanceof ConfigError && err.problems.length === 2,
    );
  });
});
