import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { loadConfig } from '../../services/common/config.js';
import { uniqueName } from '../../services/common/unique-name.js';

/**
 * A CPU rule with the starter rule's shape, verified within `within` once CPU has held below 70
 * for 1s: quick enough for tests, the demo and benchmarks.
 */
export function fastCpuRule(name: string, within: string) {
  return {
    name,
    priority: 10,
    conditions: {
      all: [
        { fact: 'cpu.avg', operator: 'greaterThan', value: 85 },
        { fact: 'cpu.count', operator: 'greaterThanInclusive', value: 3 },
      ],
    },
    event: {
      type: 'remediate',
      params: {
        action: 'scale_out',
        args: { entity: '{{entity}}', by: 1 },
        cooldown: '10m',
        verify: {
          conditions: { all: [{ fact: 'cpu.avg', operator: 'lessThan', value: 70 }] },
          within,
          stableFor: '1s',
        },
      },
    },
  };
}

/** Writes rule objects to a new temporary folder, one file each; returns the folder. */
export function writeRuleDir(rules: ReadonlyArray<{ name: string }>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-rules-'));
  for (const rule of rules) fs.writeFileSync(path.join(dir, `${rule.name}.json`), JSON.stringify(rule));
  return dir;
}

/**
 * Config overrides for a loop of its own: topics, groups and task queues named by a fresh id,
 * a 3s window with an observation every 500ms, and a random ops port.
 */
export function isolatedLoopSettings(prefix: string): NonNullable<Parameters<typeof loadConfig>[1]> {
  const id = uniqueName(prefix);
  return {
    topicPrefix: `${id}.autoglm`,
    groupPrefix: id,
    actTaskQueue: `${id}-act`,
    verifyTaskQueue: `${id}-verify`,
    window: '3s',
    emitEvery: '500ms',
    opsPort: '0',
    logLevel: 'warn',
  };
}
