import type { Decision, Observation, Verdict } from '../services/common/contracts.js';
import type { Logger } from '../services/common/logger.js';
import { workflowIdFor } from '../services/decide/decision-id.js';
import type { TopicTap } from '../services/common/topic-tap.js';
import type { ActionLogEntry, Incident, Parked } from '../services/fleet/fleet-types.js';
import { parkedByDecision, parkedByVerdict, parkedText } from '../services/fleet/parked.js';
import { formatScorecard, scoreRun } from '../services/fleet/scorecard.js';
import { StatusBlock, type StatusTerminal } from './loop-status.js';

/** What the view reads: the fleet's ground truth, and the loop's topics. */
export interface LoopViewSources {
  readonly incidents: () => Incident[];
  readonly actionsSince: (seq: number) => ActionLogEntry[];
  readonly observations: Pick<TopicTap, 'messages' | 'values'>;
  readonly decisions: Pick<TopicTap, 'messages' | 'values'>;
  readonly verdicts: Pick<TopicTap, 'messages' | 'values'>;
}

type Stage = 'injected' | 'sensed' | 'decided' | 'acting' | 'verifying' | 'settled';

/** A remediation started and not settled yet, for the status block. */
interface InFlight {
  readonly entity: string;
  readonly action: string;
  phase: string;
}

/** How the view writes. */
export interface LoopViewOptions {
  readonly temporalUi: string | undefined;
  readonly namespace: string;
  /** On a terminal: plain text lines; off one: a JSON log line per event (pino, `logger`). */
  readonly tty: boolean;
  readonly logger: Pick<Logger, 'info'>;
  /** Writes one plain line (a terminal without a status block). */
  readonly write: (line: string) => void;
  /** With `tty`: the terminal to pin the status block on (process.stdout); without it, lines only. */
  readonly terminal?: StatusTerminal;
  readonly progressEveryMs?: number;
  /** The seed of the fleet's schedule, shown in the status block. */
  readonly seed?: number;
  /** The clock (Date.now): tests pass their own. */
  readonly now?: () => number;
}

/** Most remediations the status block tracks, and verdicts it shows: bounded however long the run. */
const MAX_IN_FLIGHT = 200;
const LAST_VERDICTS = 3;
const MAX_SEEN = 10_000;
/** Lines of the status block: counts (two lines), in flight, waiting for approval, last verdicts, rule. */
const BLOCK_HEIGHT = 6;

/**
 * The live view of `autoglm up`: one line per step of each incident, as it happens (injected,
 * sensed, decided with the classifier's class and confidence and the Temporal UI address, acting,
 * verdict), and for incidents the loop leaves alone by design, what to do or why nothing happens
 * (waiting for approval, shadow mode, absorbed by a cooldown); the scorecard at the end. On a
 * terminal tall enough a compact status block (counts, remediations in flight, last verdicts) is
 * redrawn above the scrolling lines; on a terminal without it, a progress line every
 * `progressEveryMs`; off a terminal each event is one JSON log line (pino) with the same fields.
 */
export class LoopView {
  private readonly stage = new Map<string, Stage>();
  /** What the loop said of incidents it leaves alone, by incident id. */
  private readonly parked = new Map<string, Parked>();
  private readonly inFlight = new Map<string, InFlight>();
  private readonly lastVerdicts: string[] = [];
  /** Remediations decided while this view runs (bounded): an action of another one is a previous run's. */
  private readonly seen = new Set<string>();
  private lastSeq = 0;
  /** Verdicts of this run, for the scorecard (the taps are emptied as they are read). */
  private readonly verdicts: Verdict[] = [];
  private readonly started: number;
  private lastProgress: number;
  private timer: NodeJS.Timeout | undefined;
  private readonly block: StatusBlock | undefined;
  private readonly onExit = () => this.block?.stop();

  constructor(
    private readonly sources: LoopViewSources,
    private readonly opts: LoopViewOptions,
  ) {
    this.started = this.now();
    this.lastProgress = this.started;
    const block = opts.tty && opts.terminal ? new StatusBlock(opts.terminal, BLOCK_HEIGHT) : undefined;
    this.block = block?.fits() ? block : undefined;
  }

  start(everyMs = 500): this {
    if (this.block) {
      this.block.start();
      process.once('exit', this.onExit);
    }
    this.poll();
    this.timer = setInterval(() => this.poll(), everyMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.poll();
    this.block?.stop();
    process.off('exit', this.onExit);
  }

  /** The scorecard of everything seen so far, as lines. */
  summary(): string[] {
    const card = scoreRun(
      this.sources.incidents(),
      this.sources.actionsSince(0),
      this.verdicts,
      false,
      this.parked,
    );
    return formatScorecard(card, `autoglm up: ${Math.round((this.now() - this.started) / 1000)}s`);
  }

  /** The Temporal UI page of a remediation. */
  workflowUrl(workflowId: string): string | undefined {
    if (!this.opts.temporalUi) return undefined;
    return `${this.opts.temporalUi}/namespaces/${encodeURIComponent(this.opts.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  }

  /** Reads what is new in the sources and writes its lines (and the status block); `start` calls it every `everyMs`. */
  poll(): void {
    const incidents = this.sources.incidents();
    const byEntity = new Map<string, Incident>();
    for (const i of incidents) {
      if (!this.stage.has(i.id)) {
        this.stage.set(i.id, 'injected');
        this.emit('injected', `${i.class} on ${i.entity} (${i.id})`, {
          incident: i.id,
          class: i.class,
          entity: i.entity,
        });
      }
      if (this.stage.get(i.id) !== 'settled') byEntity.set(i.entity, i);
    }
    for (const o of this.take<Observation>(this.sources.observations)) {
      const i = byEntity.get(o.entity);
      if (i && this.stage.get(i.id) === 'injected' && o.ts > i.startedAt) {
        this.stage.set(i.id, 'sensed');
        const anomalies = Object.entries(o.features)
          .filter(([k, v]) => k.endsWith('.anomaly') && v >= 0.5)
          .map(([k]) => k.slice(0, -'.anomaly'.length));
        this.emit(
          'sensed',
          `${o.entity}${anomalies.length ? `: far from its normal on ${anomalies.join(', ')}` : ''}`,
          {
            incident: i.id,
            entity: o.entity,
          },
        );
      }
    }
    for (const d of this.take<Decision>(this.sources.decisions)) this.decided(d, byEntity.get(d.entity));
    for (const a of this.sources.actionsSince(this.lastSeq)) {
      this.lastSeq = a.seq;
      if (a.incidentId)
        this.stage.set(
          a.incidentId,
          a.action === 'page' ? (this.stage.get(a.incidentId) ?? 'acting') : 'verifying',
        );
      for (const f of this.inFlight.values())
        if (f.entity === a.entity && f.action === a.action) f.phase = 'verifying';
      // A remediation a previous run decided, acting now on this run's fleet (Temporal kept it).
      const earlier = this.seen.has(a.idempotencyKey.replace(/\/(compensate|escalate)$/, ''))
        ? ''
        : ' — decided before this run';
      this.emit(
        'acting',
        `${a.action} on ${a.entity}: ${a.verdict}${a.incidentId ? ` (${a.incidentId})` : ''}${earlier}`,
        {
          incident: a.incidentId,
          entity: a.entity,
          action: a.action,
          verdict: a.verdict,
        },
      );
    }
    for (const v of this.take<Verdict>(this.sources.verdicts)) this.settled(v, incidents);
    if (this.block) this.block.draw(this.statusLines(incidents));
    else if (this.now() - this.lastProgress >= (this.opts.progressEveryMs ?? 30_000)) {
      this.lastProgress = this.now();
      const c = this.counts(incidents);
      this.emit(
        'progress',
        `${c.total} incidents: ${c.notDecided} not decided yet, ${c.decided} decided, ${c.acting} acting/verifying, ${c.settled} settled, ${c.absorbed} absorbed, ${c.shadow} shadow, ${c.awaiting} awaiting approval, ${c.noisy} noisy but healthy; ${this.verdicts.length} verdicts`,
        {
          incidents: c.total,
          settled: c.settled,
          absorbed: c.absorbed,
          shadow: c.shadow,
          awaitingApproval: c.awaiting,
        },
      );
    }
  }

  /** A decision: its line, and for one the loop will not carry out, what to do or why. */
  private decided(d: Decision, i: Incident | undefined): void {
    if (i && this.stage.get(i.id) !== 'settled') this.stage.set(i.id, 'decided');
    const workflowId = workflowIdFor(d);
    const incident = d.incident ? `, classifier ${d.incident.class} ${d.incident.confidence.toFixed(2)}` : '';
    const url = this.workflowUrl(workflowId);
    this.seen.add(workflowId);
    if (this.seen.size > MAX_SEEN) this.seen.delete(this.seen.values().next().value!);
    const fields = {
      incident: i?.id,
      entity: d.entity,
      action: d.action,
      rule: d.rule,
      workflowId,
      ...(url ? { url } : {}),
    };
    this.emit(
      'decided',
      `${d.action} ${d.entity} by ${d.rule}${incident}${d.mode === 'shadow' ? ' (shadow)' : ''}${url ? ` — ${url}` : ''}`,
      fields,
    );
    if (d.mode === 'enforce' && !d.stale) {
      this.inFlight.set(workflowId, {
        entity: d.entity,
        action: d.action,
        phase: d.approval === 'required' ? 'awaiting approval' : 'decided',
      });
      if (this.inFlight.size > MAX_IN_FLIGHT) this.inFlight.delete(this.inFlight.keys().next().value!);
    }
    const parked = parkedByDecision(d);
    if (!parked) return;
    if (i && i.startedAt <= d.ts) this.parked.set(i.id, parked);
    this.emit(
      parked.kind === 'shadow' ? 'shadow' : 'waiting',
      `${parkedText(parked)} — ${d.action} on ${d.entity}`,
      {
        ...fields,
        parked: parked.kind,
      },
    );
  }

  /** A verdict: its line, the incident settled, or absorbed with the reason. */
  private settled(v: Verdict, incidents: readonly Incident[]): void {
    this.verdicts.push(v);
    this.inFlight.delete(v.workflowId);
    const i = incidents.find(
      (x) => x.entity === v.entity && this.stage.get(x.id) !== 'settled' && x.startedAt <= v.ts,
    );
    const parked = parkedByVerdict(v);
    if (i) {
      if (parked) this.parked.set(i.id, parked);
      else this.stage.set(i.id, 'settled');
    }
    const time = new Date(v.ts).toISOString().slice(11, 19);
    this.lastVerdicts.unshift(`${time} ${v.outcome} ${v.action} ${v.entity}`);
    this.lastVerdicts.length = Math.min(this.lastVerdicts.length, LAST_VERDICTS);
    const after = i ? ` ${Math.round((v.ts - i.startedAt) / 1000)}s after ${i.id} began` : '';
    const fields = { incident: i?.id, entity: v.entity, outcome: v.outcome, workflowId: v.workflowId };
    if (parked)
      this.emit('absorbed', `${parkedText(parked)} — ${v.action} on ${v.entity}${i ? ` (${i.id})` : ''}`, {
        ...fields,
        rule: parked.rule,
        ...(parked.until !== undefined ? { until: new Date(parked.until).toISOString() } : {}),
      });
    else this.emit(v.outcome, `${v.action} on ${v.entity}${after}`, fields);
  }

  /** How many incidents stand where, parked ones apart. */
  private counts(incidents: readonly Incident[]) {
    let absorbed = 0;
    let shadow = 0;
    let awaiting = 0;
    let notDecided = 0;
    let decided = 0;
    let acting = 0;
    let settled = 0;
    let noisy = 0;
    for (const i of incidents) {
      const s = this.stage.get(i.id);
      const p = this.parked.get(i.id) ?? i.parked;
      if (s === 'settled') settled++;
      else if (i.class === 'noisy_healthy') noisy += i.status === 'active' ? 1 : 0;
      else if (p?.kind === 'absorbed') absorbed++;
      else if (p?.kind === 'shadow') shadow++;
      else if (p?.kind === 'awaiting_approval') awaiting++;
      else if (s === 'decided') decided++;
      else if (s === 'acting' || s === 'verifying') acting++;
      else if (i.status === 'active') notDecided++;
    }
    return {
      total: incidents.length,
      absorbed,
      shadow,
      awaiting,
      notDecided,
      decided,
      acting,
      settled,
      noisy,
    };
  }

  /** The status block's lines: counts, those left alone, in flight, waiting for approval, last verdicts, a rule. */
  private statusLines(incidents: readonly Incident[]): string[] {
    const c = this.counts(incidents);
    const secs = Math.round((this.now() - this.started) / 1000);
    const clock = `${Math.floor(secs / 60)}m${String(secs % 60).padStart(2, '0')}s`;
    const seed = this.opts.seed === undefined ? '' : ` · seed ${this.opts.seed}`;
    const flying = [...this.inFlight.entries()].filter(([, f]) => f.phase !== 'awaiting approval');
    const waiting = [...this.inFlight.entries()].filter(([, f]) => f.phase === 'awaiting approval');
    return [
      `autoglm up ${clock}${seed} · ${c.total} incidents: ${c.notDecided} undecided, ${c.decided + c.acting} in hand, ${c.settled} settled`,
      `left alone by design: ${c.absorbed} absorbed, ${c.shadow} shadow, ${c.awaiting} awaiting approval, ${c.noisy} noisy but healthy`,
      `in flight: ${flying.length === 0 ? 'none' : flying.map(([, f]) => `${f.action} ${f.entity} (${f.phase})`).join(' · ')}`,
      waiting.length === 0
        ? 'awaiting approval: none'
        : `awaiting approval: autoglm approve ${waiting[0]![0]} --reason "…"${waiting.length > 1 ? ` (+${waiting.length - 1} more: autoglm status)` : ''}`,
      `last verdicts: ${this.lastVerdicts.length === 0 ? 'none yet' : this.lastVerdicts.join(' · ')}`,
      '─'.repeat(Math.max(10, (this.opts.terminal?.columns ?? 80) - 1)),
    ];
  }

  /**
   * What a tap received since the last call, of this run only (the topics outlive a run), and
   * emptied: the view keeps its own small state, so a long run does not grow with the topics.
   */
  private take<T extends { ts: number }>(tap: Pick<TopicTap, 'messages' | 'values'>): T[] {
    const all = tap.values<T>();
    tap.messages.length = 0;
    return all.filter((m) => m.ts >= this.started - 60_000);
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private emit(step: string, text: string, fields: Record<string, unknown>): void {
    if (this.opts.tty) {
      const time = new Date(this.now()).toISOString().slice(11, 19);
      const line = `${time} ${step.padEnd(11)} ${text}`;
      if (this.block) this.block.line(line);
      else this.opts.write(line);
    } else this.opts.logger.info({ step, ...fields }, `${step} ${text}`);
  }
}
