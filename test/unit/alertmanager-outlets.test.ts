/**
 * The outlets as config builds them: their origins must be allowlisted (refused at start, naming
 * the variable), and an outlet that cannot reach its target is logged and counted, never thrown
 * into the act step (the action still runs, the verdict is published once).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { outletsFromConfig } from '../../services/actuators/outlets.js';
import { ConfigError, loadConfig } from '../../services/common/config.js';
import { createLogger } from '../../services/common/logger.js';
import { freePort } from '../support/free-port.js';

describe('outlets from config', () => {
  it('refuses an Alertmanager or PagerDuty URL whose origin is not allowlisted, and paging without a key file', () => {
    assert.throws(
      () =>
        loadConfig({
          AUTOGLM_HTTP_ACTUATOR_URL: 'http://127.0.0.1:8090/actuate',
          AUTOGLM_ALERTMANAGER_URL: 'http://127.0.0.1:19093',
          AUTOGLM_PAGERDUTY_URL: 'https://pager.example.com/v2/enqueue',
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(
          err.message,
          /AUTOGLM_ALERTMANAGER_URL: refused URL .*not in AUTOGLM_HTTP_ALLOWED_ORIGINS/,
        );
        assert.match(err.message, /AUTOGLM_PAGERDUTY_URL: refused URL/);
        assert.match(err.message, /name the file with its routing key in AUTOGLM_PAGERDUTY_ROUTING_KEY_FILE/);
        return true;
      },
    );
    const ok = loadConfig({
      AUTOGLM_HTTP_ACTUATOR_URL: 'http://127.0.0.1:8090/actuate',
      AUTOGLM_HTTP_ALLOWED_ORIGINS: 'http://127.0.0.1:8090,http://127.0.0.1:19093',
      AUTOGLM_ALERTMANAGER_URL: 'http://127.0.0.1:19093',
      AUTOGLM_ALERTMANAGER_SILENCE_FOR: '30m',
    });
    assert.equal(ok.alertmanagerSilenceFor, 30 * 60_000);
    assert.equal(
      outletsFromConfig({ ...ok, alertmanagerUrl: '' }, createLogger('silent'), new Registry()),
      undefined,
    );
  });

  it('logs and counts an unreachable Alertmanager instead of failing the action or the verdict', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const config = loadConfig({
      AUTOGLM_HTTP_ACTUATOR_URL: 'http://127.0.0.1:8090/actuate',
      AUTOGLM_HTTP_ALLOWED_ORIGINS: `http://127.0.0.1:8090,${url}`,
      AUTOGLM_ALERTMANAGER_URL: url,
      AUTOGLM_HTTP_ACTUATOR_TIMEOUT: '1s',
    });
    const registry = new Registry();
    const outlets = outletsFromConfig(config, createLogger('silent'), registry);
    assert.ok(outlets);
    assert.deepEqual(outlets.names, ['alertmanager-silence']);
    await outlets.beforeAction({ workflowId: 'w-1', entity: 'checkout/pod-1', action: 'scale_out' });
    await outlets.afterVerdict({
      decisionId: 'd',
      workflowId: 'w-1',
      entity: 'checkout/pod-1',
      rule: 'r',
      action: 'scale_out',
      outcome: 'verified',
      evidence: {},
      ts: Date.now(),
    });
    const calls = (await registry.getSingleMetric('autoglm_act_outlet_calls_total')?.get())?.values ?? [];
    const errors = calls.filter((v) => v.labels.result === 'error').map((v) => `${v.labels.call}=${v.value}`);
    assert.deepEqual(errors.sort(), ['expire=1', 'silence=1']);
  });
});
