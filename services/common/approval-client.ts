/**
 * Answering a remediation that waits for approval, for every client (`autoglm approve|reject`, a
 * web console): the answer is checked with the workflow's own rules, signed with the approver's
 * key when one is given, and sent as the workflow's `approval` update, whose validator and the act
 * worker's approver check have the last word. The key never leaves this process.
 */
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import {
  checkApproval,
  DEFAULT_APPROVAL_LIMITS,
  type ApprovalLimits,
  type ApprovalProof,
  type SignedApprovalAnswer,
} from '../../workflows/approval.js';
import { approvalUpdate, statusQuery, type RemediationStatus } from '../../workflows/definitions.js';
import { signApproval, type SigningKey } from './approval-proof.js';

/** One answer, as a person gives it. */
export interface ApprovalRequest {
  readonly workflowId: string;
  readonly approve: boolean;
  readonly by: string;
  readonly reason: string;
  /** The approver's key (`readSigningKey`): the answer is signed here. */
  readonly signingKey?: SigningKey;
  /** A proof signed elsewhere (in the approver's browser, say) over the trimmed `by` and `reason`. */
  readonly proof?: ApprovalProof;
}

/** The answer was not sent (malformed) or not taken (the workflow or the approver check refused it). */
export class ApprovalRefusedError extends Error {
  override readonly name = 'ApprovalRefusedError';
  constructor(
    /** Each problem, naming the field (`by`, `reason`, …) or the refusal's reason. */
    readonly problems: readonly string[],
    /** True when nothing was sent: the answer's own shape is wrong. */
    readonly beforeSending: boolean,
  ) {
    super(problems.join('; '));
  }
}

/**
 * Answers `workflowId`: checks the answer (`limits`: this deployment's AUTOGLM_APPROVAL_MAX_*),
 * signs it with `signingKey` (the decision id is read from the workflow's status), and sends it.
 * Resolves with the remediation's status once taken; throws ApprovalRefusedError with the reason
 * otherwise (already answered, too late, unsigned where approvers are checked, not allowed, …).
 */
export async function answerApproval(
  client: Client,
  request: ApprovalRequest,
  options: { limits?: ApprovalLimits; now?: () => number } = {},
): Promise<RemediationStatus> {
  const checked = checkApproval(
    { approve: request.approve, by: request.by, reason: request.reason },
    undefined,
    options.limits ?? DEFAULT_APPROVAL_LIMITS,
  );
  if (!checked.ok) throw new ApprovalRefusedError(checked.problems, true);
  const handle = client.workflow.getHandle(request.workflowId);
  let proof = request.proof;
  if (request.signingKey) {
    const { decisionId } = await handle.query(statusQuery);
    proof = signApproval(request.signingKey, {
      ...checked.answer,
      workflowId: request.workflowId,
      decisionId,
      at: (options.now ?? Date.now)(),
    });
  }
  const answer: SignedApprovalAnswer = proof ? { ...checked.answer, proof } : checked.answer;
  try {
    return await handle.executeUpdate(approvalUpdate, { args: [answer] });
  } catch (err) {
    // The workflow's validator or the approver check says why: pass that on.
    if (err instanceof WorkflowUpdateFailedError)
      throw new ApprovalRefusedError([err.cause instanceof Error ? err.cause.message : err.message], false);
    throw err;
  }
}
