import { IDENTITY_NOT_CHECKED, loadApprovers, type Approvers } from '../common/approvers.js';
import { ConfigError } from '../common/config.js';
import type { Logger } from '../common/logger.js';
import type { ApprovalPolicy, ApproverCheck, ApproverCheckRequest } from '../../workflows/approval.js';

export { IDENTITY_NOT_CHECKED };

/** Default age a proof may have when its answer arrives (AUTOGLM_APPROVAL_PROOF_MAX_AGE). */
export const DEFAULT_PROOF_MAX_AGE_MS = 5 * 60_000;

/**
 * The activities the remediation asks about approvers: who may approve it (`approvalPolicy`) and
 * whether an answer comes from them (`checkApprover`). The file is read again on each call, so an
 * approver removed from it (or a rotated key) counts from the next answer, without a restart; a
 * file that cannot be used then refuses every answer (never takes one unchecked).
 */
export function createApprovalActivities(deps: {
  /** AUTOGLM_APPROVERS_FILE; '' checks nothing (today's behaviour, warned about at start). */
  approversFile: string;
  proofMaxAgeMs: number;
  logger: Logger;
}) {
  const current = (): Approvers | undefined =>
    deps.approversFile ? loadApprovers(deps.approversFile) : undefined;
  const problemOf = (err: unknown) =>
    err instanceof ConfigError ? err.problems.join('; ') : err instanceof Error ? err.message : String(err);
  return {
    /** Who may approve a remediation of `service`, or that identity is not checked. */
    async approvalPolicy(input: { service: string | null }): Promise<ApprovalPolicy> {
      try {
        const approvers = current();
        return approvers ? approvers.policy(input.service) : { checked: false, note: IDENTITY_NOT_CHECKED };
      } catch (err) {
        deps.logger.error({ problem: problemOf(err) }, 'the approvers file cannot be used');
        return { checked: true, mayApprove: [], more: 0 };
      }
    },

    /** Whether an answer comes from a listed approver who may give it (the signature is checked here). */
    async checkApprover(req: ApproverCheckRequest): Promise<ApproverCheck> {
      let result: ApproverCheck;
      try {
        const approvers = current();
        result = approvers
          ? approvers.check(req, deps.proofMaxAgeMs)
          : { ok: true, identity: { checked: false, note: IDENTITY_NOT_CHECKED } };
      } catch (err) {
        result = {
          ok: false,
          problem: `the approvers file cannot be used now, so no answer is taken: ${problemOf(err)}`,
        };
      }
      // Who and what, never the proof (no secret, but noise) nor the reason (free text).
      deps.logger.info(
        {
          workflowId: req.workflowId,
          by: req.answer.by,
          approve: req.answer.approve,
          taken: result.ok,
          ...(result.ok ? {} : { problem: result.problem }),
        },
        'approver checked',
      );
      return result;
    },
  };
}

/** The activity signatures, for the workflow's `proxyActivities` (type-only import). */
export type ApprovalActivities = ReturnType<typeof createApprovalActivities>;
