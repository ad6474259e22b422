import fs from 'node:fs';
import type { Verdict } from '../common/contracts.js';
import { OutletError, OutletHttp, type OutletHttpOptions } from './outlet-http.js';

/** An Events API v2 event, as PagerDuty takes it on its enqueue endpoint. */
export interface PagerDutyEvent {
  readonly routing_key: string;
  readonly event_action: 'trigger' | 'resolve';
  readonly dedup_key: string;
  readonly payload?: {
    readonly summary: string;
    readonly source: string;
    readonly severity: 'critical' | 'error' | 'warning' | 'info';
    readonly component?: string;
    readonly group?: string;
    readonly class?: string;
    readonly custom_details?: Record<string, unknown>;
  };
  /** Shown with the incident: the runbook sections with an http(s) address. */
  readonly links?: ReadonlyArray<{ readonly href: string; readonly text: string }>;
}

export interface PagerDutyOptions {
  /** The Events API v2 enqueue URL (AUTOGLM_PAGERDUTY_URL), or a stand-in's. */
  readonly url: string;
  /** File holding the routing (integration) key (AUTOGLM_PAGERDUTY_ROUTING_KEY_FILE); never logged. */
  readonly routingKeyFile: string;
  readonly http: OutletHttpOptions;
  /** Entities with an open incident remembered (10 000); beyond it the oldest is forgotten. */
  readonly maxOpen?: number;
}

/** Longest summary PagerDuty takes. */
const MAX_SUMMARY = 1024;

/** Reads a routing key file: one non-empty line, trimmed. Throws naming the file, never the key. */
export function readRoutingKey(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new OutletError(
      `AUTOGLM_PAGERDUTY_ROUTING_KEY_FILE=${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const key = text.trim();
  if (!key || /\s/.test(key))
    throw new OutletError(
      `AUTOGLM_PAGERDUTY_ROUTING_KEY_FILE=${file}: must hold the routing key alone on one line`,
    );
  return key;
}

/** Whether a verdict escalated to a person (its evidence holds the escalation the workflow ran). */
export function escalated(verdict: Verdict): boolean {
  return (
    typeof verdict.evidence === 'object' && verdict.evidence !== null && 'escalation' in verdict.evidence
  );
}

/**
 * The `pagerduty` outlet (Events API v2): an escalated remediation triggers an incident whose
 * dedup_key is the remediation's workflow id (a retry triggers the same one); a later `verified`
 * verdict of the entity resolves the incidents it opened. The open incidents are remembered in
 * this process (bounded): after a restart an open one waits for a person to resolve it.
 */
export class PagerDuty {
  private readonly http: OutletHttp;
  private readonly routingKey: string;
  private readonly open = new Map<string, Set<string>>();
  private readonly maxOpen: number;

  constructor(opts: PagerDutyOptions) {
    this.routingKey = readRoutingKey(opts.routingKeyFile);
    this.http = new OutletHttp(opts.url, opts.http);
    this.maxOpen = opts.maxOpen ?? 10_000;
  }

  /** The trigger of an escalated verdict. */
  triggerOf(verdict: Verdict): PagerDutyEvent {
    const runbooks = verdict.runbooks ?? [];
    const links = runbooks
      .filter((r) => /^https?:\/\//.test(r.link))
      .map((r) => ({ href: r.link, text: r.title }));
    return {
      routing_key: this.routingKey,
      event_action: 'trigger',
      dedup_key: verdict.workflowId,
      payload: {
        summary:
          `autoglm: ${verdict.action} on ${verdict.entity} (rule ${verdict.rule}) ended ${verdict.outcome}; a person is needed`.slice(
            0,
            MAX_SUMMARY,
          ),
        source: verdict.entity,
        severity: 'critical',
        component: verdict.entity,
        group: verdict.rule,
        class: verdict.action,
        custom_details: {
          outcome: verdict.outcome,
          workflowId: verdict.workflowId,
          decisionId: verdict.decisionId,
          // What the runbooks say for this incident, best first (title and link, as in the decision).
          ...(runbooks.length > 0 ? { runbooks: runbooks.map((r) => `${r.title}: ${r.link}`) } : {}),
        },
      },
      ...(links.length > 0 ? { links } : {}),
    };
  }

  /** Triggers for an escalated verdict, resolves the entity's open incidents on a verified one; what was sent. */
  async onVerdict(verdict: Verdict): Promise<PagerDutyEvent['event_action'][]> {
    const sent: PagerDutyEvent['event_action'][] = [];
    if (verdict.outcome === 'verified') {
      for (const key of this.open.get(verdict.entity) ?? []) {
        await this.send({ routing_key: this.routingKey, event_action: 'resolve', dedup_key: key });
        this.open.get(verdict.entity)?.delete(key);
        sent.push('resolve');
      }
      this.open.delete(verdict.entity);
    } else if (escalated(verdict)) {
      await this.send(this.triggerOf(verdict));
      const keys = this.open.get(verdict.entity) ?? new Set<string>();
      keys.add(verdict.workflowId);
      this.open.delete(verdict.entity);
      this.open.set(verdict.entity, keys);
      if (this.open.size > this.maxOpen) this.open.delete(this.open.keys().next().value as string);
      sent.push('trigger');
    }
    return sent;
  }

  private async send(event: PagerDutyEvent): Promise<void> {
    const res = await this.http.request('POST', '', event);
    // The Events API answers 202 {status: "success", dedup_key}; 400 is a malformed event, for good.
    if (res.status !== 202)
      throw new OutletError(
        `PagerDuty did not take the ${event.event_action} of ${event.dedup_key}: ${res.status} ${res.text.slice(0, 300)}`,
        res.status,
      );
  }
}
