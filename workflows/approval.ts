/**
 * What an operator's answer to an approval request must look like, checked in one place for the
 * workflow's `approval` update (its validator), its `approve` / `reject` signals and the CLI's
 * `autoglm approve|reject`. Pure and deterministic, so the workflow runs it as is.
 *
 * An answer is `{"approve": true|false, "by": "<who>", "reason": "<why>"}`: `approve` a JSON
 * boolean (the string "false", 0 or a missing field never approve), `by` and `reason` trimmed,
 * non-blank, without control or bidirectional-override characters, and bounded
 * (`MAX_APPROVAL_BY_CHARS`, `MAX_APPROVAL_REASON_CHARS`) so the verdict that carries them stays far
 * below Kafka's 1 MB message limit. Other fields are dropped. Problems are named by field, never
 * by quoting the value (it may be huge, or a secret pasted by mistake).
 */
import type { ApprovalAnswer, RefusedApproval, RefusedApprovals } from './definitions.js';

/** Longest `by` (UTF-16 code units, after trimming): a user name or an e-mail address fits. */
export const MAX_APPROVAL_BY_CHARS = 128;
/** Longest `reason` (UTF-16 code units, after trimming): a few sentences, or a ticket link. */
export const MAX_APPROVAL_REASON_CHARS = 1024;
/** How many refused attempts a remediation keeps in its status and verdict (the count goes on). */
export const MAX_REFUSED_APPROVALS_KEPT = 10;

/** The shape an answer must have, for messages. */
export const APPROVAL_SHAPE = '{"approve": true|false, "by": "<who>", "reason": "<why>"}';

/** A checked answer, or every problem found (each names the field and the fix). */
export type ApprovalCheck =
  | { readonly ok: true; readonly answer: ApprovalAnswer }
  | { readonly ok: false; readonly problems: readonly string[] };

const kindOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`;

// Characters that would hide or rearrange text in a terminal, a log line or the UI.
const BIDI_AND_SEPARATORS = new Set([
  0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069,
]);

/** The first control or bidi-override character in `s` and where it is, if any. */
function forbiddenCharIn(s: string): { code: number; index: number } | undefined {
  let index = 0;
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f) || BIDI_AND_SEPARATORS.has(code))
      return { code, index };
    index += ch.length;
  }
  return undefined;
}

const hex = (code: number) => `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;

/** Checks one text field (`by`, `reason`); returns the trimmed text or a problem. */
function checkText(
  record: Record<string, unknown>,
  field: 'by' | 'reason',
  what: string,
  max: number,
): { text?: string; problem?: string } {
  const raw = record[field];
  if (raw === undefined) return { problem: `"${field}" is required: ${what}` };
  if (typeof raw !== 'string') return { problem: `"${field}" must be a string, not ${kindOf(raw)}: ${what}` };
  const text = raw.trim();
  if (text === '') return { problem: `"${field}" is blank: ${what}` };
  if (text.length > max)
    return {
      problem: `"${field}" is ${text.length} characters long; at most ${max} are allowed: shorten it`,
    };
  const bad = forbiddenCharIn(text);
  if (bad)
    return {
      problem: `"${field}" holds a control or direction character (${hex(bad.code)} at index ${bad.index}): remove it`,
    };
  return { text };
}

/**
 * Checks an operator's answer. `signal` is the meaning of the signal it came with (true for
 * `approve`, false for `reject`): there `approve` may be left out, and must agree when given. Without
 * `signal` (the update, the CLI) `approve` is required. Returns a fresh object of the three fields.
 */
export function checkApproval(input: unknown, signal?: boolean): ApprovalCheck {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return { ok: false, problems: [`an approval is a JSON object ${APPROVAL_SHAPE}, not ${kindOf(input)}`] };
  }
  const record = input as Record<string, unknown>;
  const problems: string[] = [];
  let approve: boolean | undefined = signal;
  const given = record.approve;
  if (given === undefined) {
    if (signal === undefined) problems.push('"approve" is required: true to approve, false to reject');
  } else if (typeof given !== 'boolean') {
    problems.push(
      `"approve" must be the JSON boolean true or false, not ${kindOf(given)} (write false, not "false" or 0)`,
    );
  } else if (signal !== undefined && given !== signal) {
    problems.push(
      `"approve": ${given} contradicts the ${signal ? 'approve' : 'reject'} signal: leave "approve" out, or send the ${given ? 'approve' : 'reject'} signal`,
    );
  } else {
    approve = given;
  }
  const by = checkText(record, 'by', 'who decides (a user name or e-mail)', MAX_APPROVAL_BY_CHARS);
  const reason = checkText(record, 'reason', 'why (shown in the verdict)', MAX_APPROVAL_REASON_CHARS);
  for (const p of [by.problem, reason.problem]) if (p) problems.push(p);
  if (problems.length > 0 || approve === undefined || by.text === undefined || reason.text === undefined)
    return { ok: false, problems };
  return { ok: true, answer: { approve, by: by.text, reason: reason.text } };
}

/** Where a remediation stands on approvals, for `approvalRefusal`. */
export interface ApprovalWindow {
  /** Whether the decision asks for approval at all. */
  readonly required: boolean;
  /** The answer already taken, if any. */
  readonly answered?: Pick<ApprovalAnswer, 'approve' | 'by'>;
  /** Why no answer is taken any more (expired, the remediation ended), once that is so. */
  readonly closed?: string;
  /** Workflow time (epoch ms) from which an answer is too late, once the wait has started. */
  readonly deadline?: number;
}

/**
 * Why an answer, however well formed, cannot be taken now (undefined when it can): none is
 * needed, one was already taken, the wait is over, or the approval deadline has passed (an answer
 * that arrives with or after the timeout never acts, even when both land in one workflow task).
 */
export function approvalRefusal(w: ApprovalWindow, now: number): string | undefined {
  if (!w.required) return 'this remediation needs no approval';
  if (w.answered) return `already ${w.answered.approve ? 'approved' : 'rejected'} by ${w.answered.by}`;
  if (w.closed !== undefined) return `it no longer waits for an approval: ${w.closed}`;
  if (w.deadline !== undefined && now >= w.deadline)
    return `too late: the approval deadline passed at ${new Date(w.deadline).toISOString()} (AUTOGLM_APPROVAL_TIMEOUT)`;
  return undefined;
}

/** Adds a refused attempt, keeping the count and only the latest `MAX_REFUSED_APPROVALS_KEPT`. */
export function withRefusal(
  refused: RefusedApprovals | undefined,
  attempt: RefusedApproval,
): RefusedApprovals {
  const latest = [...(refused?.latest ?? []), attempt].slice(-MAX_REFUSED_APPROVALS_KEPT);
  return { count: (refused?.count ?? 0) + 1, latest };
}
