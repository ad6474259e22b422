import os from 'node:os';
import { parseArgs } from 'node:util';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { loadConfig } from '../services/common/config.js';
import { connectClient } from '../services/common/temporal.js';
import { answerApproval, ApprovalRefusedError } from '../services/common/approval-client.js';
import { ApprovalKeyError, readSigningKey, type SigningKey } from '../services/common/approval-proof.js';
import {
  actionBudgetId,
  entityGuardId,
  guardStatusQuery,
  REMEDIATE_WORKFLOW,
  statusQuery,
  type GuardStatus,
  type RemediationStatus,
} from '../workflows/definitions.js';
import { checkApproval, policyText } from '../workflows/approval.js';
import { queueLines } from './queue-lines.js';

const say = (line: string) => process.stdout.write(`${line}\n`);

/** A mistake in how a command was called; the message says how to call it. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

async function withClient<T>(run: (client: Client, scope: string) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const client = await connectClient(config);
  try {
    return await run(client, config.topicPrefix);
  } finally {
    await client.connection.close();
  }
}

/**
 * `autoglm approve|reject <workflowId> --reason … [--by …] [--key-file …]`: answers a remediation
 * that waits for approval through `answerApproval` (services/common/approval-client.ts, which a
 * console calls too): checked first with the workflow's own rules and this deployment's limits,
 * signed with the approver's key (`--key-file`, else AUTOGLM_APPROVER_KEY_FILE) when one is
 * given, then refused or taken with the workflow's and the act worker's own reason.
 */
export async function approvalCommand(approve: boolean, args: readonly string[]): Promise<number> {
  const verb = approve ? 'approve' : 'reject';
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { by: { type: 'string' }, reason: { type: 'string' }, 'key-file': { type: 'string' } },
  });
  const workflowId = positionals[0];
  const usage = `usage: autoglm ${verb} <workflowId> --reason "<why>" [--by <who>] [--key-file <file>]  (find ids with: autoglm status <entity>)`;
  if (!workflowId) throw new UsageError(usage);
  const config = loadConfig();
  const limits = {
    maxByChars: config.approvalMaxByChars,
    maxReasonChars: config.approvalMaxReasonChars,
    maxRefusedKept: config.approvalMaxRefusedKept,
  };
  // The workflow's own check, before anything is sent: the same words as its validator's.
  const answer = { approve, by: values.by ?? os.userInfo().username, reason: values.reason };
  const checked = checkApproval(answer, undefined, limits);
  if (!checked.ok) {
    const flags = checked.problems.map((p) => p.replace(/^"(by|reason)"/, '--$1'));
    throw new UsageError(`cannot ${verb}: ${flags.join('; ')}\n${usage}`);
  }
  const keyFile = values['key-file'] ?? config.approverKeyFile;
  let signingKey: SigningKey | undefined;
  try {
    signingKey = keyFile ? readSigningKey(keyFile) : undefined;
  } catch (err) {
    if (err instanceof ApprovalKeyError) throw new UsageError(`cannot ${verb}: ${err.message}`);
    throw err;
  }
  const { by, reason } = checked.answer;
  return withClient(async (client) => {
    const status = await answerApproval(
      client,
      { workflowId, approve, by, reason, ...(signingKey ? { signingKey } : {}) },
      { limits },
    ).catch((err: unknown) => {
      // The workflow's validator or the act worker's approver check says why: show that.
      if (err instanceof ApprovalRefusedError)
        throw new UsageError(`${workflowId}: cannot ${verb}: ${err.message}`);
      throw err;
    });
    say(
      `${workflowId}: ${approve ? 'approved' : 'rejected'} by ${by} (${reason}); ${identityLine(status)}; phase now ${status.phase}`,
    );
    return 0;
  });
}

/** How the answer's sender was checked, in words. */
function identityLine(status: RemediationStatus): string {
  const id = status.approvalIdentity;
  if (!id) return 'approver identity not reported (a remediation started before the check)';
  if (!id.checked) return `approver identity NOT checked: ${id.note}`;
  return `signed by ${id.approver}${id.team ? ` (team ${id.team})` : ''}, ${id.key} key checked by the act worker`;
}

/**
 * `autoglm status [<workflowId|entity>] [--json]`: the live phase of one remediation (and why it
 * waits), or an entity's recent remediations plus what its guard holds (in flight, cooldowns);
 * without a target, the action budget's waiting queue by lane and service.
 */
export async function statusCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { json: { type: 'boolean' } },
  });
  const target = positionals[0];
  if (!target)
    return withClient(async (client, scope) => {
      const budget = await guardStatus(client, actionBudgetId(scope));
      if (values.json) say(JSON.stringify({ budget: budget ?? null }, null, 2));
      else for (const line of queueLines(budget, Date.now())) say(line);
      return 0;
    });
  return withClient(async (client, scope) => {
    const report = target.startsWith('remediate-')
      ? { remediations: [await remediationStatus(client, target)] }
      : await entityReport(client, scope, target);
    if (values.json) say(JSON.stringify(report, null, 2));
    else for (const line of describe(report)) say(line);
    return 0;
  });
}

interface Row {
  readonly workflowId: string;
  readonly state: string;
  readonly status?: RemediationStatus;
  readonly error?: string;
}

async function remediationStatus(client: Client, workflowId: string): Promise<Row> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    const { status: state } = await handle.describe();
    const status = await handle.query(statusQuery).catch((err: Error) => err);
    return status instanceof Error
      ? { workflowId, state: state.name, error: `status query failed: ${status.message}` }
      : { workflowId, state: state.name, status };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { workflowId, state: 'NOT_FOUND' };
    throw err;
  }
}

/** A guard's live state, or undefined when it is not running (idle). */
export async function guardStatus(client: Client, workflowId: string): Promise<GuardStatus | undefined> {
  try {
    const handle = client.workflow.getHandle(workflowId);
    if ((await handle.describe()).status.name !== 'RUNNING') return undefined;
    return await handle.query(guardStatusQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

async function entityReport(client: Client, scope: string, entity: string) {
  const ids: string[] = [];
  const query = `WorkflowType = "${REMEDIATE_WORKFLOW}" AND AutoglmEntity = "${entity.replace(/"/g, '')}"`;
  for await (const run of client.workflow.list({ query })) {
    ids.push(run.workflowId);
    if (ids.length >= 10) break;
  }
  return {
    entity,
    guard: (await guardStatus(client, entityGuardId(scope, entity))) ?? null,
    budget: (await guardStatus(client, actionBudgetId(scope))) ?? null,
    remediations: await Promise.all(ids.map((id) => remediationStatus(client, id))),
  };
}

const when = (ms: number | undefined) => (ms === undefined ? '?' : new Date(ms).toISOString());

function describe(report: {
  entity?: string;
  guard?: GuardStatus | null;
  budget?: GuardStatus | null;
  remediations: readonly Row[];
}): string[] {
  const lines: string[] = [];
  if (report.entity !== undefined) {
    const g = report.guard;
    lines.push(`entity ${report.entity}`);
    if (!g) lines.push('  guard: idle (nothing in flight, no cooldown)');
    else {
      for (const h of g.holders)
        lines.push(`  in flight: ${h.holder} (${h.rule}: ${h.action}) since ${when(h.since)}`);
      for (const c of g.cooldowns)
        lines.push(`  cooldown: rule ${c.rule} until ${when(c.until)} (after ${c.after})`);
      const a = g.lastAct;
      if (a)
        lines.push(
          `  last act: ${a.holder} (${a.rule}: ${a.action}) ended ${when(a.endedAt)}; inputs from before it are absorbed until ${when(a.until)}`,
        );
      for (const d of g.recentDenials.slice(-3)) lines.push(`  absorbed: ${d.holder}: ${d.reason}`);
    }
    const b = report.budget;
    if (b?.limits) {
      lines.push(
        `  fleet budget: ${b.holders.length} actions in flight, ${b.grantsInPeriod ?? 0}/${b.limits.maxActionsPerPeriod} in the period, ${b.deferred.length} deferred`,
      );
    }
    if (report.remediations.length === 0) lines.push('  no remediations found');
  }
  for (const r of report.remediations) {
    const s = r.status;
    lines.push(`${r.workflowId}  ${r.state}${s ? `  phase=${s.phase}` : ''}`);
    if (r.error) lines.push(`  ${r.error}`);
    if (!s) continue;
    lines.push(`  ${s.rule}: ${s.action} on ${s.entity}`);
    if (s.waitingFor) lines.push(`  waiting for: ${s.waitingFor}`);
    for (const rb of s.runbooks ?? []) lines.push(`  runbook: ${rb.title} (${rb.link})`);
    if (s.phase === 'awaiting-approval')
      lines.push(
        `  answer with: autoglm approve|reject ${r.workflowId} --reason "…"${s.approvers?.checked ? ' --key-file <your key>' : ''}`,
      );
    if (s.approvers && (s.phase === 'awaiting-approval' || !s.approval))
      lines.push(`  ${policyText(s.approvers)}`);
    if (s.approval)
      lines.push(
        `  ${s.approval.approve ? 'approved' : 'rejected'} by ${s.approval.by}: ${s.approval.reason}${s.approvalIdentity ? ` (${identityLine(s)})` : ''}`,
      );
    const refused = s.refusedApprovals;
    if (refused && refused.latest.length > 0) {
      const last = refused.latest[refused.latest.length - 1]!;
      lines.push(`  ${refused.count} approval(s) not taken; the latest (${last.via}): ${last.problem}`);
    }
    if (s.actedAt) lines.push(`  acted at ${when(s.actedAt)}`);
    if (s.verdict) {
      const reason = typeof s.verdict.evidence.reason === 'string' ? `: ${s.verdict.evidence.reason}` : '';
      lines.push(`  verdict ${s.verdict.outcome}${reason}`);
    }
  }
  return lines;
}
