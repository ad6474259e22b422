import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { queueGroups, queueLines } from '../../cli/queue-lines.js';
import type { GuardStatus } from '../../workflows/definitions.js';

const T0 = 1_800_000_000_000;
const waiting = (
  holder: string,
  lane: number | undefined,
  fairnessKey: string | undefined,
  since?: number,
) => ({
  holder,
  rule: 'disk',
  action: 'clean_disk',
  reason: '2 clean_disk actions in flight (AUTOGLM_MAX_CONCURRENT_PER_ACTION=2)',
  ...(lane !== undefined ? { lane } : {}),
  ...(fairnessKey !== undefined ? { fairnessKey } : {}),
  ...(since !== undefined ? { since } : {}),
});

describe('autoglm status: the budget queue by lane and service', () => {
  const budget: GuardStatus = {
    kind: 'budget',
    holders: [{ holder: 'u', rule: 'rollback', action: 'rollback', since: T0 }],
    cooldowns: [],
    deferred: [
      waiting('a1', 4, 'service:a', T0 - 30_000),
      {
        ...waiting('a2', 4, 'service:a', T0 - 10_000),
        overtaken: {
          count: 2,
          by: 'u',
          lane: 1,
          fairnessKey: 'service:c',
          because: 'lane 1 before lane 4',
          at: T0,
        },
      },
      waiting('b1', 4, 'service:b', T0 - 5_000),
      waiting('old', undefined, undefined),
    ],
    recentDenials: [],
    limits: {
      maxConcurrentPerAction: 2,
      maxConcurrentPerRule: 5,
      maxActionsPerPeriod: 20,
      periodMs: 600_000,
      maxDeferred: 100,
    },
    grantsInPeriod: 7,
  };

  it('groups by lane, then the service with most waiting; requests from before lanes are lane 3', () => {
    assert.deepEqual(
      queueGroups(budget).map((g) => [g.lane, g.fairnessKey, g.waiting]),
      [
        [3, '', 1],
        [4, 'service:a', 2],
        [4, 'service:b', 1],
      ],
    );
  });

  it('prints the load, each group with its oldest wait, who overtook it and why, and the limit', () => {
    assert.deepEqual(queueLines(budget, T0), [
      'action budget: 1 in flight, 7/20 in the period, 4 waiting',
      '  lane 3:',
      '    (no service): 1 waiting',
      '  lane 4:',
      '    service:a: 2 waiting, oldest waiting 30s',
      '      overtaken (up to 2x), latest by u: lane 1 before lane 4',
      '    service:b: 1 waiting, oldest waiting 5s',
      '  held back by: 2 clean_disk actions in flight (AUTOGLM_MAX_CONCURRENT_PER_ACTION=2)',
    ]);
    assert.deepEqual(queueLines(undefined, T0), ['action budget: idle (nothing in flight, nothing waiting)']);
  });
});
