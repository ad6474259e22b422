import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { localInfra } from '../infra/infra.js';
import { requestTarget, signatureHeaders } from '../services/actuators/signature.js';
import { loadConfig, topicNames } from '../services/common/config.js';
import type { Decision, Verdict } from '../services/common/contracts.js';
import { createKafka } from '../services/common/kafka.js';
import { createLogger } from '../services/common/logger.js';
import { TopicTap } from '../services/common/topic-tap.js';
import { FLEET_SCENARIO_CLASSES, type Incident } from '../services/fleet/fleet-types.js';
import { parkedByDecision, parkedByVerdict, parkedText } from '../services/fleet/parked.js';
import { UsageError } from './remediation-commands.js';

/**
 * `autoglm demo [class]`: asks the fleet of a running `autoglm up` for one incident (cpu_saturation
 * by default) through its signed control API, then prints when it was decided, acted on and
 * settled, with the remediation's workflow id; for a remediation waiting for approval, the command
 * that answers it (and it waits on); for a shadow decision or one absorbed by a cooldown, why
 * nothing is done.
 */
export async function runDemo(args: readonly string[]): Promise<number> {
  const cls = args[0] ?? 'cpu_saturation';
  if (!(FLEET_SCENARIO_CLASSES as readonly string[]).includes(cls))
    throw new UsageError(`usage: autoglm demo [${FLEET_SCENARIO_CLASSES.join('|')}]`);
  const config = loadConfig();
  const logger = createLogger('warn');
  const topics = topicNames(config);
  const keyFile = config.actuatorHmacKeyFile || path.join(localInfra().home, 'secrets', 'actuator-hmac.key');
  const key = fs.existsSync(keyFile)
    ? Buffer.from(fs.readFileSync(keyFile, 'utf8').trim(), 'utf8')
    : undefined;
  const fleetUrl =
    process.env.AUTOGLM_FLEET_URL ?? `http://127.0.0.1:${process.env.AUTOGLM_FLEET_PORT ?? '8090'}`;
  const kafka = createKafka(config, logger);
  const decisions = await new TopicTap(kafka, topics.decisions, logger).start();
  const verdicts = await new TopicTap(kafka, topics.verdicts, logger).start();
  try {
    const body = JSON.stringify({ class: cls });
    const url = `${fleetUrl}/scenarios`;
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(key ? signatureHeaders(key, { method: 'POST', path: requestTarget(url), body }) : {}),
      },
      body,
    }).catch((err: unknown) => {
      throw new UsageError(`no fleet at ${fleetUrl} (${(err as Error).message}): start it with 'autoglm up'`);
    });
    if (response.status !== 201)
      throw new UsageError(`the fleet refused the scenario: ${response.status} ${await response.text()}`);
    const { incident } = (await response.json()) as { incident: Incident };
    const t0 = incident.startedAt;
    process.stdout.write(`injected ${incident.class} on ${incident.entity} (${incident.id})\n`);
    const deadline = Date.now() + 10 * 60_000;
    let decided: Decision | undefined;
    let verdict: Verdict | undefined;
    while (Date.now() < deadline && !verdict) {
      if (!decided) {
        decided = decisions.values<Decision>((d) => d.entity === incident.entity && d.ts >= t0)[0];
        const parked = decided && parkedByDecision(decided);
        if (parked) {
          process.stdout.write(`  ${parkedText(parked)} — ${decided!.action} on ${decided!.entity}\n`);
          if (parked.kind === 'shadow') return 1;
        }
      }
      if (decided) verdict = verdicts.values<Verdict>((v) => v.decisionId === decided!.decisionId)[0];
      await sleep(250);
    }
    if (!decided) throw new Error(`no decision for ${incident.entity} within 10 minutes`);
    if (!verdict) throw new Error(`no verdict for ${incident.entity} within 10 minutes of the incident`);
    const absorbed = parkedByVerdict(verdict);
    if (absorbed) process.stdout.write(`  ${parkedText(absorbed)}\n`);
    const incidentFact = decided.incident
      ? `, classifier ${decided.incident.class} ${decided.incident.confidence.toFixed(2)}`
      : '';
    process.stdout.write(
      `  decided ${decided.action} by ${decided.rule}${incidentFact} after ${decided.ts - t0} ms\n` +
        `  verdict ${verdict.outcome} after ${verdict.ts - t0} ms\n  workflow ${verdict.workflowId} (see the Temporal UI)\n`,
    );
    return verdict.outcome === 'verified' ? 0 : 1;
  } finally {
    await decisions.stop();
    await verdicts.stop();
  }
}
