import type { Decision, Observation, Verdict } from '../services/common/contracts.js';
import type { Logger } from '../services/common/logger.js';
import { workflowIdFor } from '../services/decide/decision-id.js';
import type { TopicTap } from '../services/common/topic-tap.js';
import type { ActionLogEntry, Incident } from '../services/fleet/fleet-types.js';
import { formatScorecard, scoreRun } from '../services/fleet/scorecard.js';

/** What the view reads: the fleet's ground truth, and the loop's topics. */
export interface LoopViewSources {
  readonly incidents: () => Incident[];
  readonly actionsSince: (seq: number) => ActionLogEntry[];
  readonly observations: TopicTap;
  readonly decisions: TopicTap;
  readonly verdicts: TopicTap;
}

type Stage = 'injected' | 'sensed' | 'decided' | 'acting' | 'verifying' | 'settled';

/**
 * The live view of `autoglm up`: one line per step of each incident, as it happens (injected,
 * sensed, decided with the classifier's class and confidence and the Temporal UI address, acting,
 * verdict), a progress line every `progressEveryMs`, and the scorecard at the end. On a terminal
 * the lines are plain text; otherwise each is a JSON log line (pino) with the same fields.
 */
export class LoopView {
  private readonly stage = new Map<string, Stage>();
  private lastSeq = 0;
  /** Verdicts of this run, for the scorecard (the taps are emptied as they are read). */
  private readonly verdicts: Verdict[] = [];
  private readonly started = Date.now();
  private lastProgress = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sources: LoopViewSources,
    private readonly opts: {
      readonly temporalUi: string | undefined;
      readonly namespace: string;
      readonly tty: boolean;
      readonly logger: Logger;
      readonly write: (line: string) => void;
      readonly progressEveryMs?: number;
    },
  ) {}

  start(everyMs = 500): this {
    this.timer = setInterval(() => this.poll(), everyMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.poll();
  }

  /** The scorecard of everything seen so far, as lines. */
  summary(): string[] {
    const card = scoreRun(this.sources.incidents(), this.sources.actionsSince(0), this.verdicts, false);
    return formatScorecard(card, `autoglm up: ${Math.round((Date.now() - this.started) / 1000)}s`);
  }

  /** The Temporal UI page of a remediation. */
  workflowUrl(workflowId: string): string | undefined {
    if (!this.opts.temporalUi) return undefined;
    return `${this.opts.temporalUi}/namespaces/${encodeURIComponent(this.opts.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  }

  private poll(): void {
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
    for (const d of this.take<Decision>(this.sources.decisions)) {
      const i = byEntity.get(d.entity);
      if (i) this.stage.set(i.id, 'decided');
      const workflowId = workflowIdFor(d);
      const incident = d.incident
        ? `, classifier ${d.incident.class} ${d.incident.confidence.toFixed(2)}`
        : '';
      const url = this.workflowUrl(workflowId);
      this.emit(
        'decided',
        `${d.action} ${d.entity} by ${d.rule}${incident}${d.mode === 'shadow' ? ' (shadow)' : ''}${url ? ` — ${url}` : ''}`,
        {
          incident: i?.id,
          entity: d.entity,
          action: d.action,
          rule: d.rule,
          workflowId,
          ...(url ? { url } : {}),
        },
      );
    }
    for (const a of this.sources.actionsSince(this.lastSeq)) {
      this.lastSeq = a.seq;
      if (a.incidentId)
        this.stage.set(
          a.incidentId,
          a.action === 'page' ? (this.stage.get(a.incidentId) ?? 'acting') : 'verifying',
        );
      this.emit(
        'acting',
        `${a.action} on ${a.entity}: ${a.verdict}${a.incidentId ? ` (${a.incidentId})` : ''}`,
        {
          incident: a.incidentId,
          entity: a.entity,
          action: a.action,
          verdict: a.verdict,
        },
      );
    }
    for (const v of this.take<Verdict>(this.sources.verdicts)) {
      this.verdicts.push(v);
      const i = incidents.find(
        (x) => x.entity === v.entity && this.stage.get(x.id) !== 'settled' && x.startedAt <= v.ts,
      );
      if (i) this.stage.set(i.id, 'settled');
      const after = i ? ` ${Math.round((v.ts - i.startedAt) / 1000)}s after ${i.id} began` : '';
      this.emit(v.outcome, `${v.action} on ${v.entity}${after}`, {
        incident: i?.id,
        entity: v.entity,
        outcome: v.outcome,
        workflowId: v.workflowId,
      });
    }
    if (Date.now() - this.lastProgress >= (this.opts.progressEveryMs ?? 30_000)) {
      this.lastProgress = Date.now();
      const count = (s: Stage) => [...this.stage.values()].filter((x) => x === s).length;
      this.emit(
        'progress',
        `${this.stage.size} incidents: ${count('injected') + count('sensed')} not decided yet, ${count('decided')} decided, ${count('verifying')} acting/verifying, ${count('settled')} settled; ${this.verdicts.length} verdicts`,
        { incidents: this.stage.size, settled: count('settled') },
      );
    }
  }

  /**
   * What a tap received since the last call, of this run only (the topics outlive a run), and
   * emptied: the view keeps its own small state, so a long run does not grow with the topics.
   */
  private take<T extends { ts: number }>(tap: TopicTap): T[] {
    const all = tap.values<T>();
    tap.messages.length = 0;
    return all.filter((m) => m.ts >= this.started - 60_000);
  }

  private emit(step: string, text: string, fields: Record<string, unknown>): void {
    if (this.opts.tty) {
      const time = new Date().toISOString().slice(11, 19);
      this.opts.write(`${time} ${step.padEnd(11)} ${text}`);
    } else this.opts.logger.info({ step, ...fields }, `${step} ${text}`);
  }
}
