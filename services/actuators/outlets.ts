import fs from 'node:fs';
import path from 'node:path';
import { Counter, type Registry } from 'prom-client';
import type { Config } from '../common/config.js';
import type { Verdict } from '../common/contracts.js';
import type { Logger } from '../common/logger.js';
import { AlertmanagerSilences, type SilencedRemediation } from './alertmanager-silence.js';
import { hmacKeyOf } from './from-config.js';
import { PagerDuty } from './pagerduty.js';

/** The entity template alerts are mapped with when the mappings folder has no alertmanager.json. */
const DEFAULT_ALERT_TEMPLATE = '{{namespace}}/{{pod}}';

/**
 * What the act worker tells the outlets around a remediation: `beforeAction` as its action starts
 * (silence the entity's alerts), `afterVerdict` once its verdict is published (expire the silence
 * when verified; page on an escalation, resolve the page when a later verdict is verified). Both
 * are best effort: an outlet that fails is logged and counted, never a reason to fail the action
 * or to publish a verdict twice.
 */
export interface RemediationOutlets {
  readonly names: readonly string[];
  beforeAction(r: SilencedRemediation): Promise<void>;
  afterVerdict(verdict: Verdict): Promise<void>;
}

type OutletSettings = Pick<
  Config,
  | 'alertmanagerUrl'
  | 'alertmanagerSilenceFor'
  | 'pagerdutyUrl'
  | 'pagerdutyRoutingKeyFile'
  | 'httpAllowedOrigins'
  | 'httpActuatorTimeout'
  | 'actuatorHmacKeyFile'
  | 'actuatorMaxResponseBytes'
  | 'ingestMappingsDir'
>;

/** The alert mapping's entity template (AUTOGLM_INGEST_MAPPINGS_DIR/alertmanager.json), else the default. */
export function alertEntityTemplate(mappingsDir: string): string {
  const file = mappingsDir ? path.join(mappingsDir, 'alertmanager.json') : '';
  if (!file || !fs.existsSync(file)) return DEFAULT_ALERT_TEMPLATE;
  const entity = (JSON.parse(fs.readFileSync(file, 'utf8')) as { entity?: unknown }).entity;
  return typeof entity === 'string' ? entity : DEFAULT_ALERT_TEMPLATE;
}

/**
 * The outlets configured (AUTOGLM_ALERTMANAGER_URL, AUTOGLM_PAGERDUTY_URL), or undefined when
 * none is. Their origins are allowlisted by config (AUTOGLM_HTTP_ALLOWED_ORIGINS) and their
 * requests signed with the actuators' HMAC key.
 */
export function outletsFromConfig(
  config: OutletSettings,
  logger: Logger,
  registry: Registry,
  linkOf?: (workflowId: string) => string | undefined,
): RemediationOutlets | undefined {
  if (!config.alertmanagerUrl && !config.pagerdutyUrl) return undefined;
  const hmacKey = config.actuatorHmacKeyFile
    ? hmacKeyOf(fs.readFileSync(config.actuatorHmacKeyFile, 'utf8'), config.actuatorHmacKeyFile).key
    : undefined;
  const http = {
    allowedOrigins: config.httpAllowedOrigins,
    timeoutMs: config.httpActuatorTimeout,
    maxResponseBytes: config.actuatorMaxResponseBytes || 65_536,
    ...(hmacKey ? { hmacKey } : {}),
  };
  const silences = config.alertmanagerUrl
    ? new AlertmanagerSilences({
        url: config.alertmanagerUrl,
        http,
        entityTemplate: alertEntityTemplate(config.ingestMappingsDir),
        silenceForMs: config.alertmanagerSilenceFor,
        ...(linkOf ? { linkOf } : {}),
      })
    : undefined;
  const pager = config.pagerdutyUrl
    ? new PagerDuty({ url: config.pagerdutyUrl, routingKeyFile: config.pagerdutyRoutingKeyFile, http })
    : undefined;
  const calls = new Counter({
    name: 'autoglm_act_outlet_calls_total',
    help: 'Outlet calls around remediations, by outlet (alertmanager-silence, pagerduty), call and result (ok, error)',
    labelNames: ['outlet', 'call', 'result'],
    registers: [registry],
  });
  const attempt = async (outlet: string, call: string, ctx: object, run: () => Promise<unknown>) => {
    try {
      const detail = await run();
      calls.inc({ outlet, call, result: 'ok' });
      logger.info({ ...ctx, outlet, call, detail }, `${outlet}: ${call}`);
    } catch (err) {
      calls.inc({ outlet, call, result: 'error' });
      logger.warn({ ...ctx, outlet, call, err: (err as Error).message }, `${outlet}: ${call} failed`);
    }
  };
  return {
    names: [...(silences ? ['alertmanager-silence'] : []), ...(pager ? ['pagerduty'] : [])],
    async beforeAction(r) {
      if (silences)
        await attempt('alertmanager-silence', 'silence', { workflowId: r.workflowId, entity: r.entity }, () =>
          silences.silence(r),
        );
    },
    async afterVerdict(v) {
      const ctx = { workflowId: v.workflowId, entity: v.entity, outcome: v.outcome };
      if (silences && v.outcome === 'verified')
        await attempt('alertmanager-silence', 'expire', ctx, () => silences.expire(v));
      if (pager) await attempt('pagerduty', 'verdict', ctx, () => pager.onVerdict(v));
    },
  };
}
