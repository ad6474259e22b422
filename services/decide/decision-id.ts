import { createHash } from 'node:crypto';

/**
 * The decision id: the same entity, rule and window always give the same id, so a replayed
 * observation (after a crash, before the offset commit) maps onto the workflow already started.
 * A rule with episodes passes its episode's first matching window, so however a replay splits the
 * episode's observations, its one decision keeps one id (and with no `for`, the id is as before).
 */
export function decisionIdFor(entity: string, rule: string, window: { start: number; end: number }): string {
  return createHash('sha256')
    .update(`${entity}\n${rule}\n${window.start}\n${window.end}`)
    .digest('hex')
    .slice(0, 24);
}

/**
 * The remediation workflow's id for a decision: readable in the Temporal UI's list (entity and
 * rule) and still deterministic (the first 12 hex digits of the decision id tell this entity's
 * decisions by this rule apart), so a replayed decision maps onto the workflow already started.
 */
export function workflowIdFor(decision: { decisionId: string; entity: string; rule: string }): string {
  return `remediate-${decision.entity}-${decision.rule}-${decision.decisionId.slice(0, 12)}`;
}
