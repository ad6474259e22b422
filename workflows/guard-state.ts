/**
 * The pure cores of the two guards a remediation passes before it acts: the per-entity guard
 * (one remediation in flight per entity, then the rule's cooldown) and the fleet-wide action
 * budget (concurrency per action kind and per rule, actions per sliding period). Plain data in
 * and out, no I/O and no clock of their own, so the guard workflows stay deterministic and the
 * rules are unit-tested without a server. Snapshots carry the state across continue-as-new.
 */
import type {
  BudgetLimits,
  DeferredRequest,
  GuardStatus,
  LastAct,
  LeaseAnswer,
  LeaseRelease,
  LeaseRequest,
} from './definitions.js';

/** A holder older than this is presumed gone (terminated by hand) and no longer blocks the entity. */
export const LEASE_TTL_MS = 6 * 3_600_000;
const MAX_DENIALS_KEPT = 20;

interface Held {
  readonly holder: string;
  readonly rule: string;
  readonly action: string;
  readonly since: number;
  readonly cooldownMs: number;
  /** How long the guard remembers its act after it ends (its request's `rememberActMs`); absent before. */
  readonly rememberActMs?: number;
}

/** The entity guard's state, serialisable for continue-as-new. */
export interface EntityGuardSnapshot {
  readonly holder?: Held;
  readonly cooldowns: Record<string, { until: number; after: string }>;
  readonly recentDenials: Array<{ holder: string; reason: string; at: number }>;
  /** The last remediation that acted, while remembered; absent before the act memory. */
  readonly lastAct?: LastAct;
}

/** How the entity guard runs; `remembersActs` is false in guards whose history is from before the act memory. */
export interface EntityGuardOptions {
  readonly remembersActs: boolean;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * One remediation in flight per entity; a rule that acted cools down after it ends. And the guard
 * remembers the last remediation that acted (until its stale-input limit has passed after it ended):
 * a request whose input window ended before that remediation ended was decided on what the entity
 * looked like before the fix, so it is denied (any rule, not only the one cooling down); its episode
 * decides again on fresh input, so a problem that outlives the fix still gets its action.
 */
export class EntityGuardState {
  private holder: Held | undefined;
  private readonly cooldowns: Record<string, { until: number; after: string }>;
  private readonly recentDenials: Array<{ holder: string; reason: string; at: number }>;
  private lastAct: LastAct | undefined;
  private readonly remembersActs: boolean;

  constructor(snapshot?: EntityGuardSnapshot, options: EntityGuardOptions = { remembersActs: true }) {
    this.holder = snapshot?.holder;
    this.cooldowns = { ...(snapshot?.cooldowns ?? {}) };
    this.recentDenials = [...(snapshot?.recentDenials ?? [])];
    this.lastAct = snapshot?.lastAct;
    this.remembersActs = options.remembersActs;
  }

  /** Grants the lease, or denies it with the reason. Asking again with the same holder gets the same answer. */
  request(req: LeaseRequest, now: number): LeaseAnswer {
    if (this.holder && now - this.holder.since > LEASE_TTL_MS) this.holder = undefined;
    if (this.holder?.holder === req.holder)
      return { guard: 'entity', result: 'granted', reason: 'holds the lease' };
    if (this.holder) {
      return this.deny(
        req,
        now,
        `remediation ${this.holder.holder} (${this.holder.rule}: ${this.holder.action}) of ${req.entity} is in flight since ${iso(this.holder.since)}`,
      );
    }
    const cooldown = this.cooldowns[req.rule];
    if (cooldown && cooldown.until > now) {
      return this.deny(
        req,
        now,
        `rule ${req.rule} is cooling down on ${req.entity} until ${iso(cooldown.until)} after ${cooldown.after}`,
      );
    }
    // A rule cooling down keeps the cooldown as its reason (as before the memory); then the last act.
    const last = this.lastAct;
    if (
      this.remembersActs &&
      last &&
      last.until > now &&
      req.inputEnd !== undefined &&
      req.inputEnd < last.endedAt
    ) {
      return this.deny(
        req,
        now,
        `its input ended at ${iso(req.inputEnd)}, before remediation ${last.holder} (${last.rule}: ${last.action}) of ${req.entity} acted and ended at ${iso(last.endedAt)}: decided on the entity as it was before that fix (the episode decides again on fresh input)`,
        { inputBeforeAct: { ...last, inputEnd: req.inputEnd } },
      );
    }
    this.holder = {
      holder: req.holder,
      rule: req.rule,
      action: req.action,
      since: now,
      cooldownMs: req.cooldownMs,
      ...(this.remembersActs && req.rememberActMs !== undefined ? { rememberActMs: req.rememberActMs } : {}),
    };
    return { guard: 'entity', result: 'granted', reason: 'no other remediation of the entity in flight' };
  }

  /**
   * Ends the holder's lease; when it acted, its rule cools down from `endedAt` and the guard
   * remembers the act (see the class). Unknown holders are ignored.
   */
  release(rel: LeaseRelease): void {
    const held = this.holder;
    if (held?.holder !== rel.holder) return;
    if (rel.acted && held.cooldownMs > 0) {
      this.cooldowns[held.rule] = { until: rel.endedAt + held.cooldownMs, after: rel.holder };
    }
    if (
      rel.acted &&
      held.rememberActMs !== undefined &&
      rel.endedAt >= (this.lastAct?.endedAt ?? -Infinity)
    ) {
      const { holder, rule, action } = held;
      this.lastAct = { holder, rule, action, endedAt: rel.endedAt, until: rel.endedAt + held.rememberActMs };
    }
    this.holder = undefined;
  }

  /** True when nothing is held, no cooldown runs and no act is remembered: the guard may end. */
  idle(now: number): boolean {
    this.dropExpired(now);
    return (
      this.holder === undefined && Object.keys(this.cooldowns).length === 0 && this.lastAct === undefined
    );
  }

  /** Milliseconds until the next cooldown or act memory ends (so the guard can wake and end), if any runs. */
  msToNextExpiry(now: number): number | undefined {
    const untils = Object.values(this.cooldowns).map((c) => c.until - now);
    if (this.lastAct) untils.push(this.lastAct.until - now);
    return untils.length === 0 ? undefined : Math.max(1, Math.min(...untils));
  }

  snapshot(): EntityGuardSnapshot {
    return {
      ...(this.holder ? { holder: this.holder } : {}),
      cooldowns: { ...this.cooldowns },
      recentDenials: [...this.recentDenials],
      ...(this.lastAct ? { lastAct: this.lastAct } : {}),
    };
  }

  status(now: number): GuardStatus {
    this.dropExpired(now);
    return {
      kind: 'entity',
      holders: this.holder ? [this.holder] : [],
      cooldowns: Object.entries(this.cooldowns).map(([rule, c]) => ({ rule, ...c })),
      deferred: [],
      recentDenials: [...this.recentDenials],
      ...(this.lastAct ? { lastAct: this.lastAct } : {}),
    };
  }

  private deny(
    req: LeaseRequest,
    now: number,
    reason: string,
    extra: Pick<LeaseAnswer, 'inputBeforeAct'> = {},
  ): LeaseAnswer {
    if (!this.recentDenials.some((d) => d.holder === req.holder)) {
      this.recentDenials.push({ holder: req.holder, reason, at: now });
      if (this.recentDenials.length > MAX_DENIALS_KEPT) this.recentDenials.shift();
    }
    return { guard: 'entity', result: 'denied', reason, ...extra };
  }

  private dropExpired(now: number): void {
    for (const [rule, c] of Object.entries(this.cooldowns)) if (c.until <= now) delete this.cooldowns[rule];
    if (this.lastAct && this.lastAct.until <= now) this.lastAct = undefined;
  }
}

interface Active {
  readonly holder: string;
  readonly rule: string;
  readonly action: string;
  readonly since: number;
  /** Set for requests with a fairness key: the key stays remembered while its action runs. */
  readonly fairnessKey?: string;
}

/** A waiting request; lane, key and since are absent in queues carried over from before lanes. */
type Waiting = { -readonly [K in keyof DeferredRequest]: DeferredRequest[K] };

/** The lane of requests from before lanes: Temporal's default priority key. */
const DEFAULT_LANE = 3;

/**
 * A grant that holds less urgent lanes back until its remediation reports it acted (`acted`), or
 * until `BudgetLimits.laneHoldMs` has passed since the grant.
 */
export interface Unacted {
  readonly holder: string;
  readonly lane: number;
  /** When it was granted (workflow time, epoch ms). */
  readonly since: number;
}

/** The action budget's state, serialisable for continue-as-new. */
export interface ActionBudgetSnapshot {
  readonly limits: BudgetLimits;
  readonly active: Active[];
  readonly grants: number[];
  readonly queue: Waiting[];
  readonly recentDenials: Array<{ holder: string; reason: string; at: number }>;
  /** Per fairness key with requests waiting or in flight: the grant count when it was last served. */
  readonly lastServed?: Record<string, number>;
  /** Grants so far, the clock `lastServed` is read on. */
  readonly served?: number;
  /** Urgent grants not yet reported acted that hold less urgent lanes back; absent before the hold. */
  readonly unacted?: Unacted[];
}

/** A signal the budget owes a remediation. */
export interface Outgoing {
  readonly holder: string;
  readonly answer: LeaseAnswer;
}

/**
 * Fleet-wide blast-radius limits: at most N actions of one kind and M of one rule in flight, and
 * at most P granted per sliding period. A request that does not fit waits in a bounded queue
 * (deferred, with the reason) until a slot frees or its holder withdraws it. The queue is served
 * by lane (1 first), then, within a lane, the fairness key (service) least recently served, then
 * age; a request granted before one that waited longer is recorded on the one it overtook. Requests
 * from before lanes all have lane 3 and one key: first come, first served, as before.
 *
 * A grant is not yet an action: a signal, a workflow task and an activity lie between them, and in
 * a loaded storm that path took longer than the gap between two grants, so routine actions granted
 * after an urgent one reached the target first. So, with `limits.laneHoldMs` set, a grant made while
 * less urgent requests wait holds those lanes back (not its own) until its remediation reports it
 * acted, or `laneHoldMs` after the grant (a lost remediation cannot starve them), or its release.
 */
export class ActionBudgetState {
  private limits: BudgetLimits;
  private readonly active: Active[];
  private grants: number[];
  private readonly queue: Waiting[];
  private readonly recentDenials: Array<{ holder: string; reason: string; at: number }>;
  private readonly lastServed: Record<string, number>;
  private served: number;
  private unacted: Unacted[];

  constructor(snapshot: ActionBudgetSnapshot | { limits: BudgetLimits }) {
    const s = snapshot as Partial<ActionBudgetSnapshot> & { limits: BudgetLimits };
    this.limits = s.limits;
    this.active = [...(s.active ?? [])];
    this.grants = [...(s.grants ?? [])];
    this.queue = (s.queue ?? []).map((q) => ({ ...q }));
    this.recentDenials = [...(s.recentDenials ?? [])];
    this.lastServed = { ...(s.lastServed ?? {}) };
    this.served = s.served ?? 0;
    this.unacted = [...(s.unacted ?? [])];
  }

  /**
   * Queues the request (newer limits replace the old), then grants what fits; a request that must
   * wait while `maxDeferred` others already do is denied at once. Returns the answers owed.
   */
  request(req: LeaseRequest, limits: BudgetLimits | undefined, now: number): Outgoing[] {
    if (limits) this.limits = limits;
    if (this.active.some((a) => a.holder === req.holder)) {
      const report = this.unacted.some((u) => u.holder === req.holder) ? { reportActed: true } : {};
      return [
        {
          holder: req.holder,
          answer: { guard: 'budget', result: 'granted', reason: 'holds a slot', ...report },
        },
      ];
    }
    const isNew = !this.queue.some((q) => q.holder === req.holder);
    if (isNew) {
      this.queue.push({
        holder: req.holder,
        rule: req.rule,
        action: req.action,
        reason: '',
        // Only requests with a lane carry the new fields: a queue from before lanes stays as it was.
        ...(req.lane !== undefined
          ? { lane: req.lane, fairnessKey: req.fairnessKey ?? '', since: now }
          : req.fairnessKey !== undefined
            ? { fairnessKey: req.fairnessKey, since: now }
            : {}),
      });
    }
    const out = this.drain(now, req.holder);
    const waiting = this.queue.findIndex((q) => q.holder === req.holder);
    if (!isNew || waiting < 0 || this.queue.length <= this.limits.maxDeferred) return out;
    // The queue is full: the least urgent request waiting (the newest of the highest lane) gives
    // way, so a storm of routine actions cannot shut an urgent one out. Usually the new one itself.
    const asking = this.queue[waiting]!;
    let gives = this.queue[0]!;
    for (const q of this.queue) if ((q.lane ?? DEFAULT_LANE) >= (gives.lane ?? DEFAULT_LANE)) gives = q;
    this.queue.splice(this.queue.indexOf(gives), 1);
    const full = `${this.queue.length} actions already wait for the budget (AUTOGLM_MAX_DEFERRED=${this.limits.maxDeferred})`;
    const reason =
      gives === asking
        ? full
        : `${full}: gave way to ${asking.holder}, lane ${asking.lane ?? DEFAULT_LANE} before lane ${gives.lane ?? DEFAULT_LANE}`;
    this.recentDenials.push({ holder: gives.holder, reason, at: now });
    if (this.recentDenials.length > MAX_DENIALS_KEPT) this.recentDenials.shift();
    return [
      ...out.filter((o) => o.holder !== gives.holder),
      { holder: gives.holder, answer: { guard: 'budget', result: 'denied', reason } },
    ];
  }

  /** Frees the holder's slot, or withdraws its queued request; returns the answers owed to others. */
  release(holder: string, now: number): Outgoing[] {
    const a = this.active.findIndex((x) => x.holder === holder);
    if (a >= 0) this.active.splice(a, 1);
    const q = this.queue.findIndex((x) => x.holder === holder);
    if (q >= 0) this.queue.splice(q, 1);
    this.unacted = this.unacted.filter((u) => u.holder !== holder);
    return this.drain(now);
  }

  /** The holder's action reached its target: the lanes its grant held back may go. */
  acted(holder: string, now: number): Outgoing[] {
    this.unacted = this.unacted.filter((u) => u.holder !== holder);
    return this.drain(now);
  }

  /**
   * Grants every queued request that fits, the most urgent first (`goesBefore`; a request of
   * another kind may pass one that is blocked). Each request still waiting gets one `deferred`
   * answer when its reason changes; `asker` always hears back.
   */
  drain(now: number, asker?: string): Outgoing[] {
    this.grants = this.grants.filter((t) => t > now - this.limits.periodMs);
    if (this.queue.every((q) => q.lane === undefined && q.fairnessKey === undefined))
      return this.drainInArrivalOrder(now, asker);
    const holdMs = this.limits.laneHoldMs ?? 0;
    this.unacted = this.unacted.filter((u) => now - u.since < holdMs);
    const out: Outgoing[] = [];
    for (;;) {
      let next: Waiting | undefined;
      for (const q of this.queue)
        if (
          (next === undefined || this.goesBefore(q, next)) &&
          this.blockedBecause(q) === undefined &&
          this.heldBy(q, now) === undefined
        )
          next = q;
      if (next === undefined) break;
      const at = this.queue.indexOf(next);
      this.queue.splice(at, 1);
      for (const earlier of this.queue.slice(0, at)) this.overtake(earlier, next, now);
      this.active.push({
        holder: next.holder,
        rule: next.rule,
        action: next.action,
        since: now,
        ...(next.fairnessKey !== undefined ? { fairnessKey: next.fairnessKey } : {}),
      });
      this.grants.push(now);
      this.lastServed[next.fairnessKey ?? ''] = ++this.served;
      const lane = next.lane ?? DEFAULT_LANE;
      const holds = holdMs > 0 && this.queue.some((q) => (q.lane ?? DEFAULT_LANE) > lane);
      if (holds) this.unacted.push({ holder: next.holder, lane, since: now });
      out.push({
        holder: next.holder,
        answer: {
          guard: 'budget',
          result: 'granted',
          reason: 'within the budget',
          ...(holds ? { reportActed: true } : {}),
        },
      });
    }
    for (const q of this.queue) {
      // A request the hold alone keeps keeps the reason it was told (its first: the hold), so a hold
      // that starts and ends does not send every waiting remediation two answers.
      const reason = this.blockedBecause(q) ?? (q.reason || this.holdReason(q, this.heldBy(q, now)!));
      if (reason !== q.reason || q.holder === asker) {
        q.reason = reason;
        out.push({ holder: q.holder, answer: { guard: 'budget', result: 'deferred', reason } });
      }
    }
    this.forgetIdleKeys();
    return out;
  }

  /**
   * The drain of a queue without lanes (every request from before them, or from rules without a
   * priority): in arrival order, answers interleaved exactly as before lanes, so budget histories
   * recorded before them replay.
   */
  private drainInArrivalOrder(now: number, asker?: string): Outgoing[] {
    const out: Outgoing[] = [];
    for (const q of [...this.queue]) {
      const reason = this.blockedBecause(q);
      if (reason === undefined) {
        this.queue.splice(this.queue.indexOf(q), 1);
        this.active.push({ holder: q.holder, rule: q.rule, action: q.action, since: now });
        this.grants.push(now);
        out.push({
          holder: q.holder,
          answer: { guard: 'budget', result: 'granted', reason: 'within the budget' },
        });
      } else if (reason !== q.reason || q.holder === asker) {
        q.reason = reason;
        out.push({ holder: q.holder, answer: { guard: 'budget', result: 'deferred', reason } });
      }
    }
    return out;
  }

  /** Lane first (1 before 5), then the fairness key least recently served; ties keep arrival order. */
  private goesBefore(a: Waiting, b: Waiting): boolean {
    const la = a.lane ?? DEFAULT_LANE;
    const lb = b.lane ?? DEFAULT_LANE;
    if (la !== lb) return la < lb;
    return (this.lastServed[a.fairnessKey ?? ''] ?? 0) < (this.lastServed[b.fairnessKey ?? ''] ?? 0);
  }

  /** Records on `waiting` (which came earlier) that `granted` went before it, and why. */
  private overtake(waiting: Waiting, granted: Waiting, now: number): void {
    const lane = granted.lane ?? DEFAULT_LANE;
    const key = granted.fairnessKey ?? '';
    const because =
      lane < (waiting.lane ?? DEFAULT_LANE)
        ? `lane ${lane} before lane ${waiting.lane ?? DEFAULT_LANE}`
        : this.blockedBecause(waiting) !== undefined
          ? `it fits while this one waits for: ${this.blockedBecause(waiting)}`
          : `${key || 'its key'} was served less recently than ${waiting.fairnessKey || 'this one'}`;
    waiting.overtaken = {
      count: (waiting.overtaken?.count ?? 0) + 1,
      by: granted.holder,
      lane,
      fairnessKey: key,
      because,
      at: now,
    };
  }

  /** The urgent grant, not yet acted nor timed out, that holds `q` back (the oldest), if one does. */
  private heldBy(q: Waiting, now: number): Unacted | undefined {
    const lane = q.lane ?? DEFAULT_LANE;
    const holdMs = this.limits.laneHoldMs ?? 0;
    return this.unacted.find((u) => u.lane < lane && now - u.since < holdMs);
  }

  private holdReason(q: Waiting, by: Unacted): string {
    const s = Math.round((this.limits.laneHoldMs ?? 0) / 1000);
    return `lane ${by.lane} ${by.holder} acts first, before lane ${q.lane ?? DEFAULT_LANE} (AUTOGLM_LANE_HOLD=${s}s)`;
  }

  /** Keeps `lastServed` to the keys with requests waiting or in flight (bounded by those). */
  private forgetIdleKeys(): void {
    const live = new Set([...this.queue, ...this.active].map((q) => q.fairnessKey ?? ''));
    for (const key of Object.keys(this.lastServed)) if (!live.has(key)) delete this.lastServed[key];
  }

  /**
   * When a waiting request may fit again (ms from now): a period slot frees, if the period limit is
   * what blocks, or a lane hold times out.
   */
  msToNextSlot(now: number): number | undefined {
    if (this.queue.length === 0) return undefined;
    const holdEnd =
      this.unacted.length === 0
        ? undefined
        : Math.max(1, Math.min(...this.unacted.map((u) => u.since)) + (this.limits.laneHoldMs ?? 0) - now);
    if (this.grants.length < this.limits.maxActionsPerPeriod) return holdEnd;
    const oldest = Math.min(...this.grants);
    const slot = Math.max(1, oldest + this.limits.periodMs - now);
    return holdEnd === undefined ? slot : Math.min(slot, holdEnd);
  }

  snapshot(): ActionBudgetSnapshot {
    return {
      limits: this.limits,
      active: [...this.active],
      grants: [...this.grants],
      queue: this.queue.map((q) => ({ ...q })),
      recentDenials: [...this.recentDenials],
      ...(this.served > 0 ? { lastServed: { ...this.lastServed }, served: this.served } : {}),
      ...(this.unacted.length > 0 ? { unacted: [...this.unacted] } : {}),
    };
  }

  status(now: number): GuardStatus {
    return {
      kind: 'budget',
      holders: [...this.active],
      cooldowns: [],
      // A request the hold alone keeps says so (its answer kept the reason it was told first).
      deferred: this.queue.map((q) => {
        const by = this.blockedBecause(q) === undefined ? this.heldBy(q, now) : undefined;
        return by ? { ...q, reason: this.holdReason(q, by) } : { ...q };
      }),
      recentDenials: [...this.recentDenials],
      limits: this.limits,
      grantsInPeriod: this.grants.filter((t) => t > now - this.limits.periodMs).length,
    };
  }

  private blockedBecause(q: { readonly rule: string; readonly action: string }): string | undefined {
    const l = this.limits;
    const sameAction = this.active.filter((a) => a.action === q.action).length;
    if (sameAction >= l.maxConcurrentPerAction)
      return `${sameAction} ${q.action} actions in flight (AUTOGLM_MAX_CONCURRENT_PER_ACTION=${l.maxConcurrentPerAction})`;
    const sameRule = this.active.filter((a) => a.rule === q.rule).length;
    if (sameRule >= l.maxConcurrentPerRule)
      return `${sameRule} actions of rule ${q.rule} in flight (AUTOGLM_MAX_CONCURRENT_PER_RULE=${l.maxConcurrentPerRule})`;
    if (this.grants.length >= l.maxActionsPerPeriod)
      return `${this.grants.length} actions in the last ${Math.round(l.periodMs / 1000)}s (AUTOGLM_MAX_ACTIONS_PER_PERIOD=${l.maxActionsPerPeriod})`;
    return undefined;
  }
}
