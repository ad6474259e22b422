import { OutletError, OutletHttp, type OutletHttpOptions } from './outlet-http.js';

/** An Alertmanager API v2 matcher. */
export interface SilenceMatcher {
  readonly name: string;
  readonly value: string;
  readonly isRegex: false;
  readonly isEqual: true;
}

/** The remediation a silence is for. */
export interface SilencedRemediation {
  readonly workflowId: string;
  readonly entity: string;
  /** The rule that decided, when known. */
  readonly rule?: string | undefined;
  readonly action: string;
}

/** A silence of Alertmanager's API v2, as far as the outlet reads it. */
interface ApiSilence {
  id: string;
  comment?: string;
  createdBy?: string;
  status?: { state?: string };
}

export interface AlertmanagerSilenceOptions {
  /** Alertmanager's base URL (AUTOGLM_ALERTMANAGER_URL). */
  readonly url: string;
  readonly http: OutletHttpOptions;
  /**
   * The entity template of the alertmanager source's mapping (`{{namespace}}/{{pod}}`): read
   * backwards, an entity gives the label matchers of its alerts.
   */
  readonly entityTemplate: string;
  /** How long a silence lasts unless expired first (AUTOGLM_ALERTMANAGER_SILENCE_FOR). */
  readonly silenceForMs: number;
  /** Where a person finds the remediation (the Temporal UI's page of the workflow), for the comment. */
  readonly linkOf?: (workflowId: string) => string | undefined;
  readonly now?: () => number;
}

/** Who Alertmanager shows created the silences. */
export const SILENCE_CREATED_BY = 'autoglm';

/**
 * The label matchers that select `entity`'s alerts under `template`: `{{namespace}}/{{pod}}` and
 * `checkout/pod-1` give namespace="checkout", pod="pod-1". Undefined when the entity does not
 * fit the template (then nothing is silenced rather than too much).
 */
export function matchersOf(template: string, entity: string): SilenceMatcher[] | undefined {
  const keys: string[] = [];
  let pattern = '^';
  let at = 0;
  for (const m of template.matchAll(/\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g)) {
    pattern += escape(template.slice(at, m.index));
    pattern += '(.+?)';
    keys.push(m[1]!);
    at = m.index + m[0].length;
  }
  pattern += `${escape(template.slice(at))}$`;
  if (keys.length === 0) return undefined;
  const found = new RegExp(pattern).exec(entity);
  if (!found) return undefined;
  const matchers: SilenceMatcher[] = [];
  for (const [i, name] of keys.entries()) {
    // Alertmanager matches label names only (no dots): an OTLP-style key cannot be silenced.
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return undefined;
    matchers.push({ name, value: found[i + 1]!, isRegex: false, isEqual: true });
  }
  return matchers;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The comment's fixed start, by which the outlet finds its own silence of a remediation again. */
const marker = (workflowId: string) => `autoglm remediation ${workflowId}:`;

/**
 * The `alertmanager-silence` outlet: while a remediation of an entity runs, that entity's alerts
 * are silenced in Alertmanager (API v2; matchers from the mapping; `createdBy` autoglm; a comment
 * naming and linking the remediation); once the verdict is `verified` the silence is expired; any
 * other verdict leaves it to its end time, so people are paged again if the alert still fires.
 * Idempotent: a retried call finds the silence it made by its comment instead of making another.
 */
export class AlertmanagerSilences {
  private readonly http: OutletHttp;
  private readonly now: () => number;

  constructor(private readonly opts: AlertmanagerSilenceOptions) {
    this.http = new OutletHttp(opts.url, opts.http);
    this.now = opts.now ?? Date.now;
    if (!(opts.silenceForMs > 0)) throw new RangeError('silenceForMs must be > 0');
  }

  /** Silences the entity's alerts for the remediation (or finds the silence made before); the silence id. */
  async silence(r: SilencedRemediation): Promise<{ id: string; created: boolean }> {
    const matchers = matchersOf(this.opts.entityTemplate, r.entity);
    if (!matchers)
      throw new OutletError(
        `entity ${r.entity} does not fit the alert mapping ${this.opts.entityTemplate}: no matchers to silence with`,
      );
    const existing = (await this.ours(matchers, r.workflowId)).find((s) => s.status?.state !== 'expired');
    if (existing) return { id: existing.id, created: false };
    const link = this.opts.linkOf?.(r.workflowId);
    const now = this.now();
    const res = await this.http.request('POST', '/api/v2/silences', {
      matchers,
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(now + this.opts.silenceForMs).toISOString(),
      createdBy: SILENCE_CREATED_BY,
      comment: `${marker(r.workflowId)} ${r.action}${r.rule ? ` by rule ${r.rule}` : ''} on ${r.entity}${link ? ` (${link})` : ''}`,
    });
    const id = (res.json as { silenceID?: unknown } | undefined)?.silenceID;
    if (res.status !== 200 || typeof id !== 'string')
      throw new OutletError(
        `Alertmanager refused the silence: ${res.status} ${res.text.slice(0, 300)}`,
        res.status,
      );
    return { id, created: true };
  }

  /** Expires the remediation's silences that are still on; returns their ids. */
  async expire(r: Pick<SilencedRemediation, 'workflowId' | 'entity'>): Promise<string[]> {
    const matchers = matchersOf(this.opts.entityTemplate, r.entity);
    if (!matchers) return [];
    const expired: string[] = [];
    for (const s of await this.ours(matchers, r.workflowId)) {
      if (s.status?.state === 'expired') continue;
      const res = await this.http.request('DELETE', `/api/v2/silence/${encodeURIComponent(s.id)}`);
      // 404: already gone (expired by someone, or garbage-collected): nothing left to do.
      if (res.status !== 200 && res.status !== 404)
        throw new OutletError(`Alertmanager did not expire silence ${s.id}: ${res.status}`, res.status);
      expired.push(s.id);
    }
    return expired;
  }

  /** The silences this outlet made for `workflowId` on these matchers, any state. */
  private async ours(matchers: readonly SilenceMatcher[], workflowId: string): Promise<ApiSilence[]> {
    const query = matchers.map((m) => `filter=${encodeURIComponent(`${m.name}="${m.value}"`)}`).join('&');
    const res = await this.http.request('GET', `/api/v2/silences?${query}`);
    if (res.status !== 200 || !Array.isArray(res.json))
      throw new OutletError(`Alertmanager did not list silences: ${res.status}`, res.status);
    return (res.json as ApiSilence[]).filter(
      (s) => s.createdBy === SILENCE_CREATED_BY && (s.comment ?? '').startsWith(marker(workflowId)),
    );
  }
}
