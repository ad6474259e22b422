/**
 * A filled set of slots as a rule file (the shape of rules/*.json, which `autoglm rules check`
 * accepts unchanged) and a rule test file derived from the same slots: a case that fires, one
 * just on the other side of the threshold, one in maintenance, one without the deploy.
 */
import type { CatalogInfo } from './entity.js';
import { INTENTS, type Intent } from './intents.js';
import type { DraftSlots, Slot } from './slots.js';

const OPERATOR_WORDS = {
  greaterThan: '>',
  greaterThanInclusive: '≥',
  lessThan: '<',
  lessThanInclusive: '≤',
} as const;

/** The slots a rule cannot be written without. */
export const REQUIRED_SLOTS = [
  'entity',
  'metric',
  'stat',
  'operator',
  'threshold',
  'verify',
  'within',
] as const;

/** The required slots that are still empty (page-only also needs whom to page). */
export function missingSlots(intent: Intent, slots: DraftSlots): string[] {
  const missing: string[] = REQUIRED_SLOTS.filter((k) => slots[k] === undefined);
  if (intent === 'page' && !slots.escalation) missing.push('escalation');
  return missing;
}

const v = <T>(slot: Slot<T> | undefined): T => {
  if (slot === undefined)
    throw new Error('rule-builder: a required slot is empty (check missingSlots first)');
  return slot.value;
};

/** A kebab-case rule name from the slots: `<entity>-<metric>[-deviation]-<action>`. */
export function ruleName(intent: Intent, slots: DraftSlots): string {
  const e = v(slots.entity);
  const who = e.services?.length
    ? e.services.join('-')
    : e.tiers?.length
      ? `tier-${e.tiers.join('-')}`
      : 'all';
  const stat = v(slots.stat);
  const what = `${v(slots.metric).replace(/_/g, '-')}${stat === 'avg' ? '' : `-${stat}`}`;
  const deploy = slots.afterDeploy?.value ? '-after-deploy' : '';
  return `${who}-${what}${deploy}-${INTENTS[intent].slug}`.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
}

/** The rule's condition tree. */
function conditions(slots: DraftSlots): Record<string, unknown>[] {
  const metric = v(slots.metric);
  const stat = v(slots.stat);
  const all: Record<string, unknown>[] = [
    { fact: `${metric}.${stat}`, operator: v(slots.operator), value: v(slots.threshold) },
  ];
  if (stat !== 'deviation' && stat !== 'count')
    all.push({ fact: `${metric}.count`, operator: 'greaterThanInclusive', value: 3 });
  if (slots.afterDeploy?.value) all.push({ fact: 'eventKinds', operator: 'contains', value: 'deploy' });
  const e = v(slots.entity);
  if (e.services?.length)
    all.push(
      e.services.length === 1
        ? { fact: 'service', operator: 'equal', value: e.services[0] }
        : { fact: 'service', operator: 'in', value: [...e.services] },
    );
  if (e.tiers?.length)
    all.push(
      e.tiers.length === 1
        ? { fact: 'tier', operator: 'equal', value: e.tiers[0] }
        : { fact: 'tier', operator: 'in', value: [...e.tiers] },
    );
  if (slots.maintenance.value) all.push({ fact: 'maintenance', operator: 'equal', value: false });
  return all;
}

/** A rule file for the slots; `sentence` goes into the description. */
export function buildRule(intent: Intent, slots: DraftSlots, sentence: string): Record<string, unknown> {
  const t = INTENTS[intent];
  const metric = v(slots.metric);
  const stat = v(slots.stat);
  const fact = `${metric}.${stat}`;
  const verify = v(slots.verify);
  const within = v(slots.within);
  const target = slots.escalation?.value;
  const observed = `observed${metric[0]!.toUpperCase()}${metric.slice(1).replace(/_(.)/g, (_, c: string) => c.toUpperCase())}`;
  const args: Record<string, unknown> = { entity: '{{entity}}', ...t.args };
  if (intent === 'scale_out') args.by = slots.by?.value ?? 1;
  if (intent === 'page') {
    args.owner = target;
    args.summary = `${fact} ${OPERATOR_WORDS[v(slots.operator)]} ${v(slots.threshold)} on {{entity}} (it was {{${fact}}})`;
  } else args[observed] = `{{${fact}}}`;
  const verifyText = `${verify.metric}.${verify.stat} ${OPERATOR_WORDS[verify.operator]} ${verify.threshold}`;
  const params: Record<string, unknown> = {
    action: t.action,
    args,
    actuator: { type: 'http' },
    mode: v(slots.mode),
    cooldown: v(slots.cooldown),
    ...(slots.for ? { for: slots.for.value } : {}),
    approval: v(slots.approval),
    priority: t.lane,
    verify: {
      conditions: {
        all: [
          { fact: `${verify.metric}.${verify.stat}`, operator: verify.operator, value: verify.threshold },
        ],
      },
      within,
      stableFor: slots.stableFor?.value ?? '0s',
    },
  };
  if (slots.compensation)
    params.onVerifyFailure = {
      action: slots.compensation.value.action,
      args: { ...slots.compensation.value.args },
    };
  if (target !== undefined && intent !== 'page')
    params.escalate = {
      action: 'page',
      args: {
        entity: '{{entity}}',
        owner: target,
        summary: `${t.action} of {{entity}} did not bring ${verifyText} within ${within}`,
      },
    };
  return {
    $schema: './rule.schema.json',
    name: ruleName(intent, slots),
    description: `Drafted by \`autoglm rules draft\` from: "${sentence.trim()}". Review before use: ${t.label} when ${fact} ${OPERATOR_WORDS[v(slots.operator)]} ${v(slots.threshold)}; verified when ${verifyText} within ${within}.`,
    priority: t.priority,
    conditions: { all: conditions(slots) },
    event: { type: 'remediate', params },
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** The rule test file for the drafted rule: the sentence's case, the threshold's other side, maintenance, no deploy. */
export function buildRuleTests(
  intent: Intent,
  slots: DraftSlots,
  rule: Record<string, unknown>,
  catalog: CatalogInfo,
): Record<string, unknown> {
  const name = rule.name as string;
  const fact = `${v(slots.metric)}.${v(slots.stat)}`;
  const op = v(slots.operator);
  const threshold = v(slots.threshold);
  const delta = Math.max(round(Math.abs(threshold) * 0.05), 0.1);
  const up = op.startsWith('greater');
  const inclusive = op.endsWith('Inclusive');
  const fires = inclusive ? threshold : round(up ? threshold + delta : threshold - delta);
  const misses = inclusive ? round(up ? threshold - delta : threshold + delta) : threshold;
  const e = v(slots.entity);
  const service =
    e.services?.[0] ?? Object.entries(catalog.services).find(([, s]) => e.tiers?.includes(s.tier))?.[0];
  const tier = e.tiers?.[0] ?? (service ? catalog.services[service]?.tier : undefined);
  const context: Record<string, unknown> = { maintenance: false };
  if (e.services?.length || e.tiers?.length) {
    context.service = service ?? 'test';
    context.tier = tier ?? null;
  }
  const entity = `${service ?? 'test'}/pod-1`;
  const facts = (value: number): Record<string, number> => ({
    [fact]: value,
    ...(conditions(slots).some((c) => c.fact === `${v(slots.metric)}.count`)
      ? { [`${v(slots.metric)}.count`]: 6 }
      : {}),
  });
  const events = slots.afterDeploy?.value
    ? [{ kind: 'deploy', message: 'drafted test deploy', ts: '2026-01-05T11:59:50Z' }]
    : [];
  const expected: Record<string, unknown> = {
    rule: name,
    action: INTENTS[intent].action,
    mode: v(slots.mode),
    approval: v(slots.approval),
  };
  if (intent === 'scale_out') expected.args = { by: slots.by?.value ?? 1 };
  const at = `${fact} ${OPERATOR_WORDS[op]} ${threshold}`;
  const cases: Record<string, unknown>[] = [
    {
      name: `drafted: ${at} on ${entity}: ${INTENTS[intent].label}`,
      entity,
      facts: facts(fires),
      events,
      context,
      expect: [expected],
    },
    {
      name: `drafted: ${fact} at ${misses}, the other side of ${threshold}: nothing`,
      entity,
      facts: facts(misses),
      events,
      context,
      expect: [],
    },
  ];
  if (slots.maintenance.value)
    cases.push({
      name: 'drafted: the same during maintenance: nothing',
      entity,
      facts: facts(fires),
      events,
      context: { ...context, maintenance: true },
      expect: [],
    });
  if (slots.afterDeploy?.value)
    cases.push({
      name: 'drafted: the same without a deploy among the recent events: nothing',
      entity,
      facts: facts(fires),
      events: [],
      context,
      expect: [],
    });
  return { cases };
}
