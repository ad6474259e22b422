import { createHash } from 'node:crypto';

/**
 * The decision id: the same entity, rule and window always give the same id, so a replayed
 * observation (after a crash, before the offset commit) maps onto the workflow already started.
 */
export function decisionIdFor(entity: string, rule: string, window: { start: number; end: number }): string {
  return createHash('sha256')
    .update(`${entity}\n${rule}\n${window.start}\n${window.end}`)
    .digest('hex')
    .slice(0, 24);
}

/** The remediation workflow's id for a decision. */
export function workflowIdFor(decisionId: string): string {
  return `remediate-${decisionId}`;
}
