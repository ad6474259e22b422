import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError } from '@temporalio/client';
import { guardStatus } from '../../cli/remediation-commands.js';
import {
  missingVerdicts,
  runScenarioSuite,
  type SuiteOptions,
  type SuiteResult,
  type SuiteRun,
} from '../../cli/scenario-suite.js';
import type { Config } from '../../services/common/config.js';
import type { Decision, Verdict } from '../../services/common/contracts.js';
import { connectClient } from '../../services/common/temporal.js';
import { workflowIdFor } from '../../services/decide/decision-id.js';
import type { LoopStep } from '../../services/loop.js';
import { entityGuardId } from '../../workflows/definitions.js';
import { StepProcesses, type KillRecord } from './step-processes.js';
import { TcpProxy, type ProxiedConnection } from './tcp-proxy.js';

/**
 * The scenario suite with all four steps as processes of their own, killed with -9 and started
 * again while incidents are handled; the fleet's action log and the verdicts topic say whether
 * anything was lost or acted on twice. Used by the kill test (each step once, each on an event
 * that puts work in flight) and by the soak (`bench/kill-soak.ts`: a random step on a timer).
 */

export const STEPS: readonly LoopStep[] = ['sense', 'decide', 'act', 'verify'];

/**
 * `events`: each step killed once, at a moment chosen so that it has work in flight: sense a few
 * seconds after the injections, decide just after it published its first decision, act while an
 * HTTP call is open (the fleet has acted, its answer is held) and the entity's lease is held,
 * verify while a remediation it watches has acted and awaits its verdict.
 * `timer`: a random step every `everyMs`, for `forMs` (default: until the run settles).
 */
export type KillPlan =
  { readonly kind: 'events' } | { readonly kind: 'timer'; readonly everyMs: number; readonly forMs?: number };

/** A kill with what was going on at that moment. */
export interface KillNote extends KillRecord {
  /** Remediations that had acted (the fleet logged their action) and had no verdict yet. */
  readonly inFlight: readonly string[];
  /** Actuate calls the fleet had received and not answered through to act yet (workflow ids). */
  readonly openCalls: readonly string[];
  /** For an act kill on an open call: that call's remediation (workflow id)… */
  readonly cutCall?: string;
  /** …and whether it held its entity's lease then. */
  readonly leaseHeld?: boolean;
  /** Decision ids on the topic when the step was started again (decide and sense kills). */
  readonly decisionsAtRestart?: ReadonlySet<string>;
}

export interface KillRunOptions extends Pick<
  SuiteOptions,
  'logger' | 'progress' | 'classes' | 'injections' | 'injectEveryMs' | 'fleet' | 'warmupMs' | 'timeoutMs'
> {
  /** Topics, groups and task queues of the run's own (as `runScenarioSuite` takes them). */
  readonly overrides: SuiteOptions['overrides'];
  readonly plan: KillPlan;
  /** The random moments and steps (Math.random). */
  readonly random?: () => number;
  /** How long a killed step stays down before it is started again (1s). */
  readonly restartAfterMs?: number;
  /** A folder for each step's stderr (`<step>.log`, all its processes); none by default. */
  readonly logDir?: string;
}

export interface KillRunResult {
  readonly suite: SuiteResult;
  readonly kills: KillNote[];
  readonly figures: KillFigures;
}

/** What a kill run is judged by. */
export interface KillFigures {
  /** Incidents that needed an action (noisy-but-healthy ones excluded). */
  readonly incidents: number;
  readonly killsPerStep: Record<LoopStep, number>;
  /** A step's process exiting by itself (restarted like a supervisor would). */
  readonly unexpectedExits: Record<LoopStep, number>;
  /** Incidents no remediation acted on, or whose remediation never got a verdict. */
  readonly lost: string[];
  /** Incidents that two remediations acted on, and idempotency keys acted on twice. */
  readonly actedTwice: string[];
  /** Actions the fleet received again with a key it had acted on (retries it absorbed). */
  readonly duplicatesAbsorbed: number;
  /** Remediations started (enforced decisions) with a verdict on the verdicts topic, and without. */
  readonly verdictsPublished: number;
  readonly verdictsMissing: string[];
  readonly wrong: number;
  readonly falsePositives: number;
  /** Per lost incident and per missing verdict, what the topics and Temporal say about it. */
  readonly explanations: string[];
  /** Kills that found a remediation acted on and awaiting its verdict. */
  readonly killsWithWorkInFlight: number;
  /** Kills of act while an actuate call was open. */
  readonly actKillsWithCallOpen: number;
}

/** Runs the suite with the four steps as processes and kills them by `plan`. */
export async function runKillRun(opts: KillRunOptions): Promise<KillRunResult> {
  const random = opts.random ?? Math.random;
  const restartAfter = opts.restartAfterMs ?? 1000;
  const notes: KillNote[] = [];
  let steps: StepProcesses | undefined;
  let proxy: TcpProxy | undefined;
  try {
    const suite = await runScenarioSuite({
      ...opts,
      overrides: {
        // The blast-radius budget opened wide: every incident may be acted on at once.
        maxConcurrentPerAction: '1000',
        maxConcurrentPerRule: '1000',
        maxActionsPerPeriod: '100000',
        // A call cut by a kill is retried soon (the activity's timeout is this plus 5s); the events
        // plan holds one call's answer while it asks the guard and kills act: the default 5s then.
        httpActuatorTimeout: opts.plan.kind === 'timer' ? '2s' : '5s',
        ...opts.overrides,
      },
      external: STEPS,
      awaitVerdicts: true,
      during: async (run) => {
        const calls = new OpenCalls();
        let onAnswer: ((conn: ProxiedConnection) => Promise<void>) | undefined;
        let onRequest: ((call: OpenCall) => Promise<void>) | undefined;
        const fleetHost = new URL(run.fleet.controlOrigin).host;
        proxy = await TcpProxy.start(fleetHost, {
          fromClient: async (chunk, conn) => {
            const call = calls.request(chunk, conn);
            if (call) await onRequest?.(call);
            // The control API answers only requests that name it (its own port) in their Host header.
            return /^[A-Z]+ \//.test(chunk.toString('latin1', 0, 16))
              ? Buffer.from(
                  chunk.toString('latin1').replace(/\r\nhost:[^\r\n]*/i, `\r\nHost: ${fleetHost}`),
                  'latin1',
                )
              : undefined;
          },
          fromServer: async (_chunk, conn) => {
            await onAnswer?.(conn);
            calls.answered(conn);
          },
        });
        const origin = `http://${proxy.address}`;
        steps = new StepProcesses(
          run.config,
          { act: { AUTOGLM_HTTP_ACTUATOR_URL: `${origin}/actuate`, AUTOGLM_HTTP_ALLOWED_ORIGINS: origin } },
          1000,
          opts.logDir,
        );
        for (const step of STEPS) steps.start(step);
        const live = steps;
        const kill = async (step: LoopStep, moment: string, extra: Partial<KillNote> = {}) => {
          const inFlight = remediationsInFlight(run);
          const openCalls = calls.open();
          const record = await live.kill(step, moment);
          if (!record) return undefined;
          const note = Object.assign(record, { inFlight, openCalls, ...extra }) as KillNote;
          notes.push(note);
          opts.progress?.(
            `kill -9 ${step} (${moment}): ${inFlight.length} remediation(s) awaiting a verdict, ${openCalls.length} call(s) open`,
          );
          return note;
        };
        const restart = async (note: KillNote | undefined) => {
          if (!note) return;
          await live.restart(note.step, restartAfter);
          (note as { decisionsAtRestart?: ReadonlySet<string> }).decisionsAtRestart = new Set(
            run.decisions.values<Decision>().map((d) => d.decisionId),
          );
        };
        const waitFor = async (ready: () => boolean) => {
          while (!ready() && !run.signal.aborted)
            await sleep(200, undefined, { signal: run.signal }).catch(() => undefined);
          return !run.signal.aborted;
        };
        if (opts.plan.kind === 'timer') {
          const { everyMs, forMs } = opts.plan;
          // From the first injection: kills during the warm-up would find nothing in flight.
          if (!(await waitFor(() => run.fleet.model.incidents().length > 0))) return;
          const until = forMs === undefined ? Infinity : Date.now() + forMs;
          const restarts: Promise<void>[] = [];
          while (!run.signal.aborted && Date.now() < until) {
            await sleep(everyMs, undefined, { signal: run.signal }).catch(() => undefined);
            if (run.signal.aborted || Date.now() >= until) break;
            const step = STEPS[Math.floor(random() * STEPS.length)]!;
            restarts.push(restart(await kill(step, 'timer')));
          }
          await Promise.all(restarts);
          return;
        }
        // The events plan: each step once, concurrently, each when its moment comes.
        const client = await connectClient(run.config);
        try {
          const actKilled = new Promise<void>((resolve) => {
            let armed: { call: OpenCall; leaseHeld: Promise<boolean> } | undefined;
            let seen = 0;
            const target = 1 + Math.floor(random() * 2);
            onRequest = async (call) => {
              if (armed || ++seen !== target) return;
              // Asked while act is alive (a guard answers queries through its worker), beside the call.
              const leaseHeld = guardStatus(client, entityGuardId(run.config.topicPrefix, call.entity)).then(
                (guard) => guard?.holders.some((h) => h.holder === call.workflowId) ?? false,
                () => false,
              );
              armed = { call, leaseHeld };
            };
            onAnswer = async (conn) => {
              if (!armed || armed.call.conn !== conn.id) return;
              const { call } = armed;
              onAnswer = undefined;
              onRequest = undefined;
              const note = await kill('act', `the fleet answered ${call.workflowId}, the answer held`, {
                cutCall: call.workflowId,
                leaseHeld: await armed.leaseHeld,
              });
              resolve(restart(note));
            };
          });
          const between = (lo: number, hi: number) => lo + random() * (hi - lo);
          await Promise.all([
            (async () => {
              if (!(await waitFor(() => run.fleet.model.incidents().length > 0))) return;
              await sleep(between(1000, 6000));
              await restart(await kill('sense', 'incidents developing'));
            })(),
            (async () => {
              const enforced = () =>
                run.decisions.values<Decision>((d) => d.mode === 'enforce' && !d.stale).length > 0;
              if (!(await waitFor(enforced))) return;
              await sleep(between(0, 1500));
              await restart(await kill('decide', 'incidents being decided'));
            })(),
            (async () => {
              if (!(await waitFor(() => remediationsInFlight(run).length > 0))) return;
              await sleep(between(1000, 5000));
              await restart(await kill('verify', 'a remediation acted, its verification running'));
            })(),
            Promise.race([
              actKilled,
              new Promise((resolve) => run.signal.addEventListener('abort', resolve)),
            ]),
          ]);
        } finally {
          await client.connection.close();
        }
      },
    });
    return {
      suite,
      kills: notes,
      figures: killFigures(
        suite,
        notes,
        steps?.unexpectedExits ?? { sense: 0, decide: 0, act: 0, verify: 0 },
        await workflowStatuses(suite.config, missingVerdicts(suite.decisions, suite.verdicts)),
      ),
    };
  } finally {
    await steps?.stopAll();
    await proxy?.down();
  }
}

/** A remediation's own action has its workflow id as key; its compensation and escalation add a suffix. */
const FOLLOW_UP = /\/(compensate|escalate)$/;
const isFollowUp = (key: string) => FOLLOW_UP.test(key);

/** Remediations whose action the fleet logged and whose verdict has not been published yet. */
export function remediationsInFlight(run: SuiteRun): string[] {
  const heard = new Set(run.verdicts.values<Verdict>().map((v) => v.workflowId));
  const acted = run.fleet.model.actionLog.filter((a) => a.effective && !isFollowUp(a.idempotencyKey));
  return [...new Set(acted.map((a) => a.idempotencyKey))].filter((id) => !heard.has(id));
}

/** Per workflow id: "never started", or its status (a run still going at the end was terminated). */
async function workflowStatuses(config: Config, ids: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (ids.length === 0) return out;
  const client = await connectClient(config);
  try {
    for (const id of ids)
      out.set(
        id,
        await client.workflow
          .getHandle(id)
          .describe()
          .then(
            (d) => `workflow ${d.status.name.toLowerCase()}`,
            (err: unknown) => (err instanceof WorkflowNotFoundError ? 'workflow never started' : String(err)),
          ),
      );
  } finally {
    await client.connection.close();
  }
  return out;
}

/** An actuate request seen by the proxy and not answered yet. */
interface OpenCall {
  readonly conn: number;
  readonly workflowId: string;
  readonly entity: string;
}

/**
 * The actuate calls between act and the fleet, read off the bytes (one request per connection at
 * a time; its head and body may come in several chunks).
 */
class OpenCalls {
  private readonly calls = new Map<number, OpenCall>();
  private readonly partial = new Map<number, Buffer>();

  /** The call once its request is whole (head and `content-length` bytes of body); else undefined. */
  request(chunk: Buffer, conn: ProxiedConnection): OpenCall | undefined {
    const before = this.partial.get(conn.id);
    if (!before && !chunk.toString('latin1', 0, 13).startsWith('POST /actuate')) return undefined;
    const bytes = before ? Buffer.concat([before, chunk]) : chunk;
    const split = bytes.indexOf('\r\n\r\n');
    const head = bytes.toString('latin1', 0, split < 0 ? bytes.length : split);
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    if (split < 0 || bytes.length - split - 4 < length) {
      this.partial.set(conn.id, bytes);
      return undefined;
    }
    this.partial.delete(conn.id);
    const body = bytes.toString('utf8', split + 4, split + 4 + length);
    let parsed: { idempotencyKey?: unknown; entity?: unknown } = {};
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      // not an action of ours: counted by its header alone
    }
    const key = String(parsed.idempotencyKey ?? /\r\nidempotency-key:\s*([^\r\n]+)/i.exec(head)?.[1] ?? '');
    const call = {
      conn: conn.id,
      workflowId: key.trim().replace(FOLLOW_UP, ''),
      entity: String(parsed.entity ?? ''),
    };
    this.calls.set(conn.id, call);
    return call;
  }

  answered(conn: ProxiedConnection): void {
    this.calls.delete(conn.id);
  }

  open(): string[] {
    return [...this.calls.values()].map((c) => c.workflowId);
  }
}

/** The figures of a run: the fleet's action log and the topics are the ground truth. */
export function killFigures(
  suite: SuiteResult,
  kills: readonly KillNote[],
  unexpectedExits: Record<LoopStep, number>,
  /** What Temporal said of the remediations without a verdict, after the run. */
  workflowStatus: ReadonlyMap<string, string> = new Map(),
): KillFigures {
  const heard = new Set(suite.verdicts.map((v) => v.workflowId));
  const incidents = suite.incidents.filter((i) => i.class !== 'noisy_healthy');
  const lost: string[] = [];
  const actedTwice: string[] = [];
  const explanations: string[] = [];
  for (const incident of incidents) {
    const remediations = new Set(
      suite.actions
        .filter((a) => a.effective && a.incidentId === incident.id && !isFollowUp(a.idempotencyKey))
        .map((a) => a.idempotencyKey),
    );
    if (remediations.size === 0 || ![...remediations].some((id) => heard.has(id))) {
      lost.push(incident.id);
      const mine = suite.decisions.filter((d) => d.entity === incident.entity && d.ts >= incident.startedAt);
      const stale = mine.filter((d) => d.stale).length;
      explanations.push(
        `${incident.id} (${incident.class} on ${incident.entity}, ${incident.status}): ` +
          `${new Set(mine.map((d) => d.decisionId)).size} decision(s), ${stale} published stale, ` +
          `${remediations.size} remediation(s) acted`,
      );
    }
    if (remediations.size > 1) actedTwice.push(`${incident.id} (${[...remediations].join(', ')})`);
  }
  const effectiveByKey = new Map<string, number>();
  for (const a of suite.actions.filter((x) => x.effective))
    effectiveByKey.set(a.idempotencyKey, (effectiveByKey.get(a.idempotencyKey) ?? 0) + 1);
  for (const [key, n] of effectiveByKey) if (n > 1) actedTwice.push(`key ${key} (${n} times)`);
  const missing = missingVerdicts(suite.decisions, suite.verdicts);
  const staleCopies = new Set(suite.decisions.filter((d) => d.stale).map(workflowIdFor));
  for (const id of missing)
    explanations.push(
      `${id}: no verdict; ${staleCopies.has(id) ? 'decided again past the decision age and published stale' : 'no stale copy'}; ` +
        (workflowStatus.get(id) ?? 'status unknown'),
    );
  // A remediation of a healthy entity: which rule, on what (so a false positive can be traced).
  for (const a of suite.actions.filter((x) => x.effective && x.verdict === 'false_positive')) {
    const d = suite.decisions.find((x) => x.decisionId === a.decisionId);
    const facts = d
      ? Object.entries(d.facts)
          .filter(([, v]) => typeof v === 'number')
          .slice(0, 8)
          .map(([k, v]) => `${k}=${Math.round((v as number) * 100) / 100}`)
          .join(' ')
      : '';
    explanations.push(
      `false positive: ${a.action} on ${a.entity} (${a.incidentId ?? 'no incident'}) by rule ${d?.rule ?? '?'}` +
        (d?.incident ? `, incident ${d.incident.class} ${d.incident.confidence.toFixed(2)}` : '') +
        (facts ? `; ${facts}` : ''),
    );
  }
  const started = new Set(suite.decisions.filter((d) => d.mode === 'enforce' && !d.stale).map(workflowIdFor));
  const counts: Record<LoopStep, number> = { sense: 0, decide: 0, act: 0, verify: 0 };
  for (const k of kills) counts[k.step]++;
  return {
    incidents: incidents.length,
    killsPerStep: counts,
    unexpectedExits,
    lost,
    actedTwice,
    duplicatesAbsorbed: suite.actions.filter((a) => a.verdict === 'duplicate').length,
    verdictsPublished: started.size - missing.length,
    verdictsMissing: missing,
    wrong: suite.scorecard.total.wrong,
    falsePositives: suite.scorecard.total.falsePositives,
    explanations,
    killsWithWorkInFlight: kills.filter((k) => k.inFlight.length > 0).length,
    actKillsWithCallOpen: kills.filter((k) => k.step === 'act' && k.openCalls.length > 0).length,
  };
}

/** The figures as lines to print. */
export function formatKillFigures(f: KillFigures): string[] {
  const per = STEPS.map((s) => `${s} ${f.killsPerStep[s]}`).join(', ');
  const exits = STEPS.filter((s) => f.unexpectedExits[s] > 0).map((s) => `${s} ${f.unexpectedExits[s]}`);
  const total = STEPS.reduce((n, s) => n + f.killsPerStep[s], 0);
  return [
    `incidents:            ${f.incidents}`,
    `kills (-9):           ${total} (${per})`,
    `  with a remediation awaiting its verdict: ${f.killsWithWorkInFlight}; act with a call open: ${f.actKillsWithCallOpen}`,
    `  exits by themselves: ${exits.length > 0 ? exits.join(', ') : 'none'}`,
    `lost:                 ${f.lost.length}${f.lost.length > 0 ? ` (${f.lost.join(', ')})` : ''}`,
    `acted twice:          ${f.actedTwice.length}${f.actedTwice.length > 0 ? ` (${f.actedTwice.join('; ')})` : ''}`,
    `duplicates absorbed:  ${f.duplicatesAbsorbed} (retries the fleet recognised by their key)`,
    `verdicts published:   ${f.verdictsPublished}, missing ${f.verdictsMissing.length}${f.verdictsMissing.length > 0 ? ` (${f.verdictsMissing.slice(0, 5).join(', ')}${f.verdictsMissing.length > 5 ? ', …' : ''})` : ''}`,
    `wrong actions:        ${f.wrong}; on healthy entities: ${f.falsePositives}`,
    ...f.explanations.map((e) => `  ${e}`),
  ];
}
