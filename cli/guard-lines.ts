import type { Config } from '../services/common/config.js';
import { connectClient } from '../services/common/temporal.js';
import { entityGuardId } from '../workflows/definitions.js';
import { guardStatus } from './remediation-commands.js';

const when = (ms: number) => new Date(ms).toISOString();

/**
 * Asks Temporal what the entity's guard holds now, for `rules explain --live`: per rule, the
 * lines that say whether a remediation in flight or a cooldown would hold a new decision back.
 */
export async function liveGuardLines(config: Config, entity: string): Promise<(rule: string) => string[]> {
  let client;
  try {
    client = await connectClient(config);
  } catch (err) {
    const line = `live guard state unavailable: ${(err as Error).message}`;
    return () => [line];
  }
  try {
    const g = await guardStatus(client, entityGuardId(config.topicPrefix, entity));
    return (rule) => {
      if (!g) return ['live: the entity guard is idle (nothing in flight, no cooldown): it would act'];
      const lines = g.holders.map(
        (h) => `live: held back: ${h.holder} (${h.rule}: ${h.action}) is in flight since ${when(h.since)}`,
      );
      for (const c of g.cooldowns.filter((c) => c.rule === rule))
        lines.push(`live: held back: cooldown of this rule until ${when(c.until)} (after ${c.after})`);
      return lines.length > 0
        ? lines
        : ['live: nothing in flight and no cooldown for this rule: it would act'];
    };
  } finally {
    await client.connection.close();
  }
}
