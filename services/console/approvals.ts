import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import { checkApproval, DEFAULT_APPROVAL_LIMITS, type ApprovalLimits } from '../../workflows/approval.js';
import type { ApprovalAnswer } from '../../workflows/definitions.js';

/** Shortest token accepted: a guessable one would make the form an open door. */
export const MIN_TOKEN_CHARS = 24;
/** Largest approval request body. */
export const MAX_APPROVAL_BODY_BYTES = 16 * 1024;
/** The header the page sends the token in (a custom header: another origin cannot send it without a preflight we never answer). */
export const TOKEN_HEADER = 'x-autoglm-console-token';

/** Reads the console token from `file`; throws naming AUTOGLM_CONSOLE_TOKEN_FILE and the fix. Never logs it. */
export function loadConsoleToken(file: string): Buffer {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new Error(
      `AUTOGLM_CONSOLE_TOKEN_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code}): create it with a random token, e.g. openssl rand -hex 32`,
    );
  }
  if (text.length < MIN_TOKEN_CHARS)
    throw new Error(
      `AUTOGLM_CONSOLE_TOKEN_FILE: the token in ${file} is shorter than ${MIN_TOKEN_CHARS} characters: use a random one, e.g. openssl rand -hex 32`,
    );
  return createHash('sha256').update(text).digest();
}

/** An answer to an approval request that the console refuses, with the HTTP status to send. */
export interface Refused {
  readonly status: number;
  readonly error: string;
}

/**
 * Checks an approval request before anything reaches Temporal: approvals on (a token file), the
 * request from the console's own page (Origin equal to the Host it was sent to, which must be one
 * the console answers on), JSON, the token, then the answer itself by the workflow's own rules
 * (who and why required). Returns the workflow id and the checked answer, or the refusal.
 */
export function checkApprovalRequest(
  req: http.IncomingMessage,
  body: string,
  tokenHash: Buffer | undefined,
  hostAllowed: (host: string) => boolean,
  /** This deployment's AUTOGLM_APPROVAL_MAX_* (the CLI checks with the same). */
  limits: ApprovalLimits = DEFAULT_APPROVAL_LIMITS,
): { workflowId: string; answer: ApprovalAnswer } | Refused {
  if (!tokenHash)
    return {
      status: 403,
      error: 'approvals are off: the console is read-only until AUTOGLM_CONSOLE_TOKEN_FILE is set',
    };
  const host = req.headers.host ?? '';
  const origin = req.headers.origin;
  if (!hostAllowed(host))
    return { status: 403, error: `refused: the console does not answer on host "${host.slice(0, 100)}"` };
  if (origin !== `http://${host}`)
    return {
      status: 403,
      error: "refused: an approval must come from the console's own page (Origin is missing or another site)",
    };
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin')
    return { status: 403, error: 'refused: not a same-origin request' };
  if (!(req.headers['content-type'] ?? '').startsWith('application/json'))
    return { status: 415, error: 'send the approval as application/json' };
  const given = req.headers[TOKEN_HEADER];
  if (typeof given !== 'string' || given === '')
    return { status: 401, error: `refused: the console token is required (header ${TOKEN_HEADER})` };
  if (!timingSafeEqual(createHash('sha256').update(given.trim()).digest(), tokenHash))
    return { status: 401, error: 'refused: wrong console token' };
  let input: unknown;
  try {
    input = JSON.parse(body);
  } catch {
    return { status: 400, error: 'the body is not JSON: send {"workflowId", "approve", "by", "reason"}' };
  }
  const record = (input ?? {}) as Record<string, unknown>;
  const workflowId = record.workflowId;
  if (typeof workflowId !== 'string' || !workflowId.startsWith('remediate-') || workflowId.length > 600)
    return { status: 400, error: '"workflowId" must be the id of a remediation (remediate-…)' };
  const checked = checkApproval(
    { approve: record.approve, by: record.by, reason: record.reason },
    undefined,
    limits,
  );
  if (!checked.ok) return { status: 400, error: `cannot answer: ${checked.problems.join('; ')}` };
  return { workflowId, answer: checked.answer };
}
