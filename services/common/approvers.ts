/**
 * Who may answer a remediation that waits for approval (AUTOGLM_APPROVERS_FILE), and the check of
 * one answer against that list: the act worker runs it for the workflow (an activity), so the
 * keys stay in the worker and out of workflow history. The file is JSON:
 *
 *   {"approvers": [
 *     {"name": "alice", "team": "sre", "publicKeyFile": "keys/alice.pub"},
 *     {"name": "bob", "team": "payments", "services": ["payments", "checkout-*"], "keyFile": "/run/secrets/bob.key"}
 *   ]}
 *
 * `name` is what `by` must be; `services` (catalog service names, `*` for any run of characters)
 * limits what an approver may approve (left out: every remediation); a reject is taken from any
 * listed approver. Each approver has one key: `keyFile` (an HMAC secret, mode 600) or
 * `publicKeyFile` (Ed25519). Relative paths are read from the file's folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import {
  policyText,
  unsignedProblem,
  type ApprovalPolicy,
  type ApproverCheck,
  type ApproverCheckRequest,
} from '../../workflows/approval.js';
import { ApprovalKeyError, readCheckingKey, signatureMatches, type CheckingKey } from './approval-proof.js';
import { ConfigError } from './config.js';
import { issueProblems, parseJson, strict } from './context/problems.js';
import { compileGlob, type Glob } from './glob.js';

/** One approver as the checks use it; the key stays in this process. */
export interface Approver {
  readonly name: string;
  readonly team?: string;
  /** Service patterns they may approve; undefined: every remediation. */
  readonly services?: readonly Glob[];
  readonly key: CheckingKey;
}

/** Why nothing is checked, in statuses and verdicts, when the act worker has no approvers file. */
export const IDENTITY_NOT_CHECKED =
  'no AUTOGLM_APPROVERS_FILE on the act worker: anyone with access to the Temporal namespace can answer, and "by" is what they typed';

/**
 * For `rules explain`, from this machine's config: who may approve a remediation of `service`, or
 * that identity is not checked (the act worker's own file is the one that counts).
 */
export function approversLine(file: string, service: string | null): string {
  if (!file) return `approver identity is not checked: ${IDENTITY_NOT_CHECKED}`;
  try {
    return policyText(loadApprovers(file).policy(service));
  } catch (err) {
    const problems = err instanceof ConfigError ? err.problems.join('; ') : String(err);
    return `the approvers file cannot be used, so no answer would be taken: ${problems}`;
  }
}

/** How many approver names a policy or a refusal names before "and N more". */
const NAMES_SHOWN = 10;
/** A proof may be stamped this far after its answer arrived (the signer's clock running ahead). */
const MAX_FUTURE_SKEW_MS = 60_000;

const NAME = /^[A-Za-z0-9._@+-]{1,128}$/;
const NAME_FIX = 'a user name or e-mail: letters, digits and . _ @ + -, at most 128 characters';
const SERVICE = /^[A-Za-z0-9._*-]{1,200}$/;

const approverSchema = strict(
  {
    name: z.string({ error: `must be ${NAME_FIX}` }).regex(NAME, `must be ${NAME_FIX}`),
    team: z.string().regex(NAME, `must be ${NAME_FIX}`).optional(),
    services: z
      .array(
        z
          .string()
          .regex(SERVICE, 'must be a catalog service name, with * for any run of characters ("payments-*")'),
        { error: 'must be a list of catalog service names, such as ["payments", "checkout-*"]' },
      )
      .min(1, 'list at least one service, or leave "services" out to let them approve every remediation')
      .max(1000)
      .optional(),
    keyFile: z.string().min(1, 'name the file of their HMAC secret').optional(),
    publicKeyFile: z.string().min(1, 'name the file of their Ed25519 public key').optional(),
  },
  'an approver',
);
/** Most approvers one file lists. */
const MAX_APPROVERS = 10_000;
/** The file around the approvers; each approver is checked on its own (approverSchema). */
const fileSchema = strict(
  { approvers: z.array(z.unknown()).min(1, 'list at least one approver').max(MAX_APPROVERS) },
  'the approvers file',
);

/** Reads and checks the approvers file and every key it names; one ConfigError lists every problem. */
export function loadApprovers(file: string): Approvers {
  const where = `AUTOGLM_APPROVERS_FILE ${file}`;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError([`${where} cannot be read (${code}): check the path, or unset it`]);
  }
  const parsed = parseJson(where, text);
  if ('problem' in parsed) throw new ConfigError([parsed.problem]);
  const problems: string[] = [];
  const checked = fileSchema.safeParse(parsed.json);
  if (!checked.success) problems.push(...issueProblems(where, '', checked.error.issues));
  // Each approver on its own, also beside the file's other problems, so one reading lists them all;
  // a field refused in its shape is not checked further (its name for twins, its key file).
  const entries = (parsed.json as { approvers?: unknown } | null)?.approvers;
  const approvers: Approver[] = [];
  const seen = new Set<string>();
  (Array.isArray(entries) ? entries.slice(0, MAX_APPROVERS) : []).forEach((entry: unknown, i) => {
    const one = approverSchema.safeParse(entry);
    if (!one.success) problems.push(...issueProblems(where, `approvers[${i}]`, one.error.issues));
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return;
    // The fields not refused hold what the schema takes (a refused field's issue path starts with it).
    const refused = new Set(one.success ? [] : one.error.issues.map((issue) => issue.path[0]));
    const a = (one.success ? one.data : entry) as z.infer<typeof approverSchema>;
    const named = !refused.has('name');
    const at = `${where}: approvers[${i}]${named ? ` (${a.name})` : ''}`;
    if (named && seen.has(a.name))
      problems.push(`${at}: the name is listed twice: keep one entry per approver`);
    if (named) seen.add(a.name);
    if (refused.has('keyFile') || refused.has('publicKeyFile')) return;
    if ((a.keyFile === undefined) === (a.publicKeyFile === undefined)) {
      problems.push(`${at}: give exactly one of "keyFile" (an HMAC secret) or "publicKeyFile" (Ed25519)`);
      return;
    }
    const keyPath = path.resolve(path.dirname(file), (a.keyFile ?? a.publicKeyFile)!);
    try {
      const key = readCheckingKey(keyPath, a.keyFile !== undefined ? 'secret' : 'public');
      if (one.success)
        approvers.push({
          name: a.name,
          ...(a.team !== undefined ? { team: a.team } : {}),
          ...(a.services ? { services: a.services.map(compileGlob) } : {}),
          key,
        });
    } catch (err) {
      if (!(err instanceof ApprovalKeyError)) throw err;
      problems.push(`${at}: ${err.message}`);
    }
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return new Approvers(approvers);
}

/** The listed approvers: who may approve what, and the check of one answer. */
export class Approvers {
  private readonly byName: ReadonlyMap<string, Approver>;

  constructor(readonly list: readonly Approver[]) {
    this.byName = new Map(list.map((a) => [a.name, a]));
  }

  /** Whether `approver` may approve a remediation of `service` (null: the entity has no catalog service). */
  static mayApprove(approver: Approver, service: string | null): boolean {
    if (!approver.services) return true;
    return service !== null && approver.services.some((g) => g.test(service));
  }

  /** Who may approve a remediation of `service`, for its status and refusals. */
  policy(service: string | null): ApprovalPolicy {
    const may = this.list.filter((a) => Approvers.mayApprove(a, service)).map((a) => a.name);
    return {
      checked: true,
      mayApprove: may.slice(0, NAMES_SHOWN),
      more: Math.max(0, may.length - NAMES_SHOWN),
    };
  }

  /**
   * Checks one answer: `by` is listed, may approve this service (a reject: any listed approver),
   * and the proof is `by`'s signature over this remediation, this answer and a time no older than
   * `maxAgeMs` when it arrived. The first problem found, naming the fix; never a key.
   */
  check(req: ApproverCheckRequest, maxAgeMs: number): ApproverCheck {
    const { answer, proof, service } = req;
    const who = JSON.stringify(answer.by);
    const approver = this.byName.get(answer.by);
    const may = mayText(this.policy(service));
    if (!approver)
      return { ok: false, problem: `${who} is not a listed approver (AUTOGLM_APPROVERS_FILE): ${may}` };
    if (answer.approve && !Approvers.mayApprove(approver, service))
      return {
        ok: false,
        problem: `${who} may not approve a remediation of ${service === null ? 'an entity without a catalog service' : `service ${service}`}: ${may}; ${who} may still reject it`,
      };
    if (!proof) return { ok: false, problem: unsignedProblem(answer.by, answer.approve) };
    const age = req.receivedAt - proof.at;
    if (age > maxAgeMs)
      return {
        ok: false,
        problem: `the proof was signed at ${new Date(proof.at).toISOString()}, ${Math.round(age / 1000)}s before the answer arrived, more than the ${Math.round(maxAgeMs / 1000)}s allowed (AUTOGLM_APPROVAL_PROOF_MAX_AGE): sign a new answer`,
      };
    if (-age > Math.min(MAX_FUTURE_SKEW_MS, maxAgeMs))
      return {
        ok: false,
        problem: `the proof is stamped ${Math.round(-age / 1000)}s after the answer arrived: the signer's clock runs ahead; set it right and sign again`,
      };
    const claim = { ...answer, workflowId: req.workflowId, decisionId: req.decisionId, at: proof.at };
    if (!signatureMatches(approver.key, claim, proof.signature))
      return {
        ok: false,
        problem: `the proof does not match ${who}'s key: signed with another key, or for another remediation, answer, by or reason (sign exactly what is sent)`,
      };
    return {
      ok: true,
      identity: {
        checked: true,
        approver: approver.name,
        ...(approver.team !== undefined ? { team: approver.team } : {}),
        key: approver.key.kind,
      },
    };
  }
}

/** "alice, carol may approve it" (or nobody may), from a policy. */
function mayText(policy: ApprovalPolicy): string {
  if (!policy.checked || policy.mayApprove.length === 0)
    return 'nobody in the approvers file may approve it; add an approver for its service';
  const more = policy.more > 0 ? ` and ${policy.more} more` : '';
  return `${policy.mayApprove.join(', ')}${more} may approve it`;
}
