/**
 * What each action does to an entity by itself, right or wrong: scale_out adds replicas (less cpu
 * per pod), restart bumps the restart count, clean_disk frees space, and so on. Whether it also
 * resolves the entity's incident is the model's call (fleet-model.ts), not this file's.
 */
import { MAX_REPLICAS, type EntityState, type PendingEvent } from './fleet-entity.js';
import type { FleetAction, StateChanges } from './fleet-types.js';

/** Largest step one scale action takes, whatever its args ask. */
const MAX_SCALE_STEP = 5;
/** Healthy disk usage clean_disk never goes below, percent. */
const CLEAN_DISK_FLOOR = 15;
/** Points of disk usage clean_disk frees on a healthy entity. */
const CLEAN_DISK_FREES = 12;

/** A whole number from `value` between 1 and `max`, else `fallback`. */
function count(value: unknown, fallback: number, max: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isInteger(n) && n >= 1 ? Math.min(n, max) : fallback;
}

const round2 = (v: number) => Math.round(v * 100) / 100;

/**
 * Applies `action`'s own effect to `e` at `at` and returns what changed; events it logs are queued
 * on the entity for the next tick.
 */
export function applyEffects(
  e: EntityState,
  action: FleetAction,
  args: Readonly<Record<string, unknown>>,
  at: number,
): StateChanges {
  const changed: Record<string, { from: unknown; to: unknown }> = {};
  const log = (kind: string, message: string) =>
    e.pending.push({ kind, message, ts: at } satisfies PendingEvent);
  const set = <K extends 'replicas' | 'restarts' | 'diskLevel' | 'version' | 'breakerOpen'>(
    key: K,
    name: string,
    to: EntityState[K],
  ) => {
    if (e[key] === to) return false;
    changed[name] = { from: e[key], to };
    e[key] = to;
    return true;
  };
  switch (action) {
    case 'scale_out': {
      const to = Math.min(MAX_REPLICAS, e.replicas + count(args.by, 1, MAX_SCALE_STEP));
      if (set('replicas', 'replicas', to)) log('k8s', `Scaled replica set to ${to}`);
      break;
    }
    case 'scale_in': {
      // Never below the replica count it started at: the autoscaler's floor.
      const to = Math.max(e.minReplicas, e.replicas - count(args.by, 1, MAX_SCALE_STEP));
      if (set('replicas', 'replicas', to)) log('k8s', `Scaled replica set to ${to}`);
      break;
    }
    case 'restart':
      set('restarts', 'restarts', e.restarts + 1);
      log('k8s', 'container restarted');
      break;
    case 'rollback':
      if (e.version !== e.previousVersion) {
        const from = e.version;
        set('version', 'version', e.previousVersion);
        e.rolledBackFrom = from;
        log('k8s', `rolled back from ${from} to ${e.version}`);
      }
      break;
    case 'roll_forward':
      if (e.rolledBackFrom !== null) {
        set('version', 'version', e.rolledBackFrom);
        e.rolledBackFrom = null;
        e.pending.push({
          kind: 'deploy',
          message: `deployed ${e.version}`,
          ts: at,
          attrs: { version: e.version },
        });
      }
      break;
    case 'clean_disk':
      if (set('diskLevel', 'disk', round2(Math.max(CLEAN_DISK_FLOOR, e.diskLevel - CLEAN_DISK_FREES))))
        log('log', 'cleaned up rotated logs, temporary files and unused images');
      break;
    case 'expand_volume': {
      const byPercent = count(args.byPercent, 25, 400);
      set('diskLevel', 'disk', round2(e.diskLevel / (1 + byPercent / 100)));
      log('k8s', `volume expanded by ${byPercent}%`);
      break;
    }
    case 'open_circuit_breaker':
      if (set('breakerOpen', 'breakerOpen', true)) log('log', 'circuit breaker opened');
      break;
    case 'close_circuit_breaker':
      if (set('breakerOpen', 'breakerOpen', false)) log('log', 'circuit breaker closed');
      break;
    case 'page':
      break;
  }
  return changed;
}
