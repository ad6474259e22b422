/** The fleet simulator's settings: conservative defaults, every problem listed at once, the key file checked. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../services/common/config.js';
import { loadFleetConfig, readHmacKey } from '../../services/fleet/fleet-config.js';

describe('fleet config', () => {
  it('defaults to 5 services of 2 pods, a 1 s tick, every class every 2 minutes, port 8090', () => {
    const c = loadFleetConfig({});
    assert.equal(c.services, 5);
    assert.equal(c.pods, 2);
    assert.equal(c.tick, 1000);
    assert.equal(c.scenarioEvery, 120_000);
    assert.equal(c.port, 8090);
    assert.equal(c.seed, 1);
    assert.deepEqual(
      c.scenarios.map((m) => m.class),
      ['cpu_saturation', 'memory_leak', 'bad_deploy', 'disk_pressure', 'dependency_outage', 'noisy_healthy'],
    );
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.scenarios));
  });

  it('is signed by default: unsigned only when allowed, a 5-minute replay window of at most 10 000 signatures', () => {
    const c = loadFleetConfig({});
    assert.deepEqual([c.allowUnsigned, c.signatureWindow, c.seenSignatures], [false, 300_000, 10_000]);
    const set = loadFleetConfig({
      AUTOGLM_FLEET_ALLOW_UNSIGNED: 'true',
      AUTOGLM_FLEET_SIGNATURE_WINDOW: '30s',
      AUTOGLM_FLEET_SEEN_SIGNATURES: '500',
    });
    assert.deepEqual([set.allowUnsigned, set.signatureWindow, set.seenSignatures], [true, 30_000, 500]);
    assert.throws(
      () =>
        loadFleetConfig({
          AUTOGLM_FLEET_ALLOW_UNSIGNED: 'yes',
          AUTOGLM_FLEET_SIGNATURE_WINDOW: '2h',
          AUTOGLM_FLEET_SEEN_SIGNATURES: '5',
        }),
      (err: Error) =>
        /AUTOGLM_FLEET_ALLOW_UNSIGNED="yes": must be true or false/.test(err.message) &&
        /AUTOGLM_FLEET_SIGNATURE_WINDOW="2h": must be between 1s and 60m/.test(err.message) &&
        /AUTOGLM_FLEET_SEEN_SIGNATURES="5": must be at least 100/.test(err.message),
    );
  });

  it('reads weights, "none" and "off"', () => {
    const c = loadFleetConfig({
      AUTOGLM_FLEET_SCENARIOS: 'cpu_saturation:3, noisy_healthy',
      AUTOGLM_FLEET_SCENARIO_EVERY: 'off',
    });
    assert.deepEqual(c.scenarios, [
      { class: 'cpu_saturation', weight: 3 },
      { class: 'noisy_healthy', weight: 1 },
    ]);
    assert.equal(c.scenarioEvery, 0);
    assert.deepEqual(loadFleetConfig({ AUTOGLM_FLEET_SCENARIOS: 'none' }).scenarios, []);
  });

  it('lists every problem, each by its variable', () => {
    const err = (() => {
      try {
        loadFleetConfig({
          AUTOGLM_FLEET_SERVICES: '0',
          AUTOGLM_FLEET_PODS: 'two',
          AUTOGLM_FLEET_TICK: '1 second',
          AUTOGLM_FLEET_SCENARIOS: 'cpu_saturation,meteor,cpu_saturation:2,memory_leak:-1',
          AUTOGLM_FLEET_SEED: '-3',
          AUTOGLM_FLEET_PORT: '70000',
          AUTOGLM_FLEET_RECOVERY: '1h',
        });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof ConfigError);
    const text = err.problems.join('\n');
    for (const name of [
      'AUTOGLM_FLEET_SERVICES="0": must be at least 1',
      'AUTOGLM_FLEET_PODS="two": must be a whole number',
      'AUTOGLM_FLEET_TICK="1 second": must be a duration such as "1s"',
      '"meteor": name a class among',
      '"cpu_saturation" is named twice',
      '"memory_leak:-1": the weight must be a number > 0',
      'AUTOGLM_FLEET_SEED="-3"',
      'AUTOGLM_FLEET_PORT="70000": must be at most 65535',
      'AUTOGLM_FLEET_RECOVERY="1h": must be between 0s and 10m',
    ])
      assert.ok(text.includes(name), `${name} in:\n${text}`);
  });

  it('lists problems across settings with the settings refused on their own, a refused one only once', () => {
    const problems = (env: NodeJS.ProcessEnv) => {
      try {
        loadFleetConfig(env);
      } catch (e) {
        assert.ok(e instanceof ConfigError);
        return e.problems;
      }
      return [];
    };
    assert.deepEqual(
      problems({
        AUTOGLM_FLEET_SEED: 'random',
        AUTOGLM_FLEET_SAMPLES: 'push',
        AUTOGLM_FLEET_SERVICES: '100',
        AUTOGLM_FLEET_PODS: '50',
        AUTOGLM_FLEET_TICK: '10s',
        AUTOGLM_FLEET_SCENARIO_EVERY: '5s',
        AUTOGLM_FLEET_RENAME_METRICS: 'errors',
      }),
      [
        'AUTOGLM_FLEET_SEED="random": must be a whole number',
        'AUTOGLM_FLEET_SAMPLES="push": must be "kafka" (samples to the metrics topic) or "scrape" (only on GET /metrics, for Prometheus)',
        'AUTOGLM_FLEET_SERVICES × AUTOGLM_FLEET_PODS is 5000; at most 2000 entities: lower one of them',
        'AUTOGLM_FLEET_SCENARIO_EVERY (5s) must not be shorter than AUTOGLM_FLEET_TICK (10s): lengthen it, or "off" for on demand only',
        'AUTOGLM_FLEET_RENAME_METRICS: "errors" must be <metric>=<value> with a metric among cpu, mem, latency, errors, disk, restarts, replicas, upstream_errors',
      ],
    );
    // The checks across settings wait for both of theirs: no product of a count that is not one.
    assert.deepEqual(
      problems({
        AUTOGLM_FLEET_SERVICES: 'many',
        AUTOGLM_FLEET_PODS: '50',
        AUTOGLM_FLEET_TICK: 'fast',
        AUTOGLM_FLEET_SCENARIO_EVERY: '5s',
      }),
      [
        'AUTOGLM_FLEET_SERVICES="many": must be a whole number',
        'AUTOGLM_FLEET_TICK="fast": must be a duration such as "1s"',
      ],
    );
  });

  it('refuses a fleet too large and a schedule faster than the tick', () => {
    assert.throws(
      () => loadFleetConfig({ AUTOGLM_FLEET_SERVICES: '100', AUTOGLM_FLEET_PODS: '50' }),
      /at most 2000 entities/,
    );
    assert.throws(
      () => loadFleetConfig({ AUTOGLM_FLEET_TICK: '10s', AUTOGLM_FLEET_SCENARIO_EVERY: '5s' }),
      /must not be shorter than AUTOGLM_FLEET_TICK/,
    );
  });

  it('reads the HMAC key file the act step signs with, and refuses a short or missing one', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-key-'));
    try {
      const good = path.join(dir, 'good.key');
      fs.writeFileSync(good, '  0123456789abcdef0123\n');
      assert.equal(readHmacKey(good)?.toString(), '0123456789abcdef0123');
      const short = path.join(dir, 'short.key');
      fs.writeFileSync(short, 'abc');
      assert.throws(() => readHmacKey(short), /at least 16 bytes/);
      assert.throws(() => readHmacKey(path.join(dir, 'missing.key')), /cannot read it \(ENOENT\)/);
      assert.equal(readHmacKey(''), undefined);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
