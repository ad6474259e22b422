import { randomBytes } from 'node:crypto';

/** `prefix-` plus 8 random hex digits: names of topics, groups, queues and entities that must not collide. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}
