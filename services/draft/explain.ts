/**
 * `--explain`: which words filled which slot (or which template or house rule did), and the
 * intent model's probabilities, so an author sees why the draft says what it says.
 */
import type { Draft } from './drafter.js';
import { INTENTS, type Intent } from './intents.js';
import type { Slot } from './slots.js';

const OPERATORS: Record<string, string> = {
  greaterThan: '>',
  greaterThanInclusive: '≥',
  lessThan: '<',
  lessThanInclusive: '≤',
};

function show(name: string, value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (name === 'entity') {
    const e = value as { services?: string[]; tiers?: number[]; all?: boolean };
    if (e.all) return 'every entity';
    return [
      e.services?.length ? `service ${e.services.join(' | ')}` : '',
      e.tiers?.length ? `tier ${e.tiers.join(' | ')}` : '',
    ]
      .filter(Boolean)
      .join(', ');
  }
  if (name === 'verify') {
    const c = value as { metric: string; stat: string; operator: string; threshold: number };
    return `${c.metric}.${c.stat} ${OPERATORS[c.operator] ?? c.operator} ${c.threshold}`;
  }
  if (name === 'compensation') {
    const f = value as { action: string; args: Record<string, unknown> };
    return `${f.action} ${JSON.stringify(f.args)}`;
  }
  if (name === 'operator') return `${OPERATORS[value as string] ?? value} (${String(value)})`;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

const ORDER = [
  'entity',
  'metric',
  'stat',
  'operator',
  'threshold',
  'afterDeploy',
  'deployWithin',
  'for',
  'maintenance',
  'by',
  'verify',
  'within',
  'stableFor',
  'compensation',
  'escalation',
  'approval',
  'mode',
  'cooldown',
];

/** The explain lines of a draft. */
export function explainLines(d: Draft, modelVersion: string): string[] {
  const lines: string[] = [];
  lines.push(`sentence: ${d.sentence}`);
  if (d.language) lines.push(`language: ${d.language === 'zh' ? 'Chinese' : 'English'}`);
  if (d.intent) {
    const ranked = (Object.entries(d.intent.probabilities) as Array<[Intent, number]>).sort(
      (a, b) => b[1] - a[1],
    );
    lines.push(
      `intent:   ${INTENTS[d.intent.intent].label} (${d.intent.intent}), p = ${d.intent.confidence.toFixed(3)} [${modelVersion}]`,
    );
    lines.push(`          ${ranked.map(([k, p]) => `${k} ${p.toFixed(3)}`).join(', ')}`);
  }
  if (!d.slots) return lines;
  lines.push('slots:');
  const slots = d.slots as unknown as Record<string, Slot<unknown> | undefined>;
  for (const name of ORDER) {
    const slot = slots[name];
    if (!slot) continue;
    const from =
      slot.source === 'sentence'
        ? slot.span && slot.span.text !== ''
          ? `← "${slot.span.text}"`
          : '← (implied by the sentence)'
        : `(${slot.source}: ${slot.note ?? ''})`;
    lines.push(`  ${name.padEnd(13)} ${show(name, slot.value).padEnd(34)} ${from}`);
  }
  return lines;
}
