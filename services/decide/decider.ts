import { plainIncident } from '../classifier/incident-fact.js';
import type { IncidentFact } from '../classifier/model-types.js';
import type { Decision, FollowUp, Observation } from '../common/contracts.js';
import { parseDuration } from '../common/duration.js';
import { factsFor } from '../common/facts.js';
import type { RunbookIndex } from '../runbooks/runbook-index.js';
import type { RuleSetMatch } from './compiled-rules.js';
import { CooldownGate } from './cooldown.js';
import { decisionIdFor } from './decision-id.js';
import {
  EpisodeTracker,
  episodeDecisionId,
  episodeSpecOf,
  type EpisodeChange,
  type EpisodeSpec,
  type EpisodeState,
  type EpisodeStep,
} from './episodes.js';
import type { LoadedRule } from './rule-file.js';
import type { RuleSet } from './rule-set.js';
import { expandTemplate } from './template.js';
import { urgencyFacts, urgencyOf } from './urgency.js';

/** A rule that matched but was held back, and why. */
export interface Suppressed {
  readonly rule: string;
  readonly entity: string;
  readonly reason: 'cooldown';
}

/** A rule whose evaluation threw on one observation; the other rules decided as usual. */
export interface RuleFailure {
  readonly rule: string;
  readonly message: string;
}

/**
 * A match of a rule with episodes that decided nothing: its episode is `pending` (the conditions
 * have not held for `for` yet), has decided already (`episode`), or the observation is `late`
 * (at or before the newest window the episode saw: a replay or out of order), or `stale`: the
 * episode would decide on a window older than the decision age, and its one stale decision for
 * the audit is out already (it decides on the first fresh observation still matching).
 */
export interface Held {
  readonly rule: string;
  readonly entity: string;
  readonly reason: 'pending' | 'episode' | 'late' | 'stale';
  /** Pending: how long the conditions have held so far (from the first matching window's end). */
  readonly heldMs?: number;
}

/**
 * What one observation gave: decisions (highest priority first), matches held back by the
 * cooldown, rules that failed, matches held by their episode, the episode states to persist
 * (changelog records, each to its partition) and the episodes that ended.
 */
export interface Decided {
  readonly decisions: Decision[];
  /**
   * Decisions an episode made already, fresh (its deciding window replayed after a restart or a
   * rebalance, the episode read back from the changelog), now past the decision age. They were
   * published then, and the crash may have come before their workflow started: the handler starts
   * each again if it was published lately (idempotent: a workflow already there stays the only
   * one; one that never started ends `stale` at once, with its verdict, and the episode opens
   * again), and publishes none again.
   */
  readonly replayed: Decision[];
  readonly suppressed: Suppressed[];
  readonly failures: RuleFailure[];
  readonly held: Held[];
  readonly episodeChanges: EpisodeChange[];
  readonly episodesEnded: EpisodeState[];
}

/**
 * The decide step's pure core: evaluates the current rule set on one observation (compiled
 * predicates; json-rules-engine is the authority they are tested against and the fallback for what
 * does not compile) and turns each rule that fires into a decision with a deterministic id.
 * Undefined facts make a condition false instead of failing the run. `use` swaps the rule set
 * atomically: each observation is decided by one set, whose hash the decision records. A rule with
 * `for`/`keepFiringFor` decides once per episode (episodes.ts); the tracker is the Decider's own
 * unless given (decide passes the one its changelog restores), so a backtest replays the same code.
 */
export class Decider {
  private current: RuleSet;
  private readonly cooldowns = new CooldownGate();
  private readonly specs = new WeakMap<LoadedRule, EpisodeSpec | null>();
  /** Each set's rules that opt in to episodes, with their settings. */
  private readonly episodic = new WeakMap<RuleSet, ReadonlyArray<{ rule: LoadedRule; spec: EpisodeSpec }>>();
  /** The episodes of the rules that opt in. */
  readonly episodes: EpisodeTracker;

  /**
   * `maxDecisionAgeMs`: a window that ended longer ago than this (wall clock) gives a stale decision.
   * `runbooks`: each decision carries the best `hits` sections of this index for its incident.
   */
  constructor(
    ruleSet: RuleSet,
    private readonly opts: {
      maxDecisionAgeMs: number;
      episodes?: EpisodeTracker;
      runbooks?: { index: Pick<RunbookIndex, 'find'>; hits: number };
    } = {
      maxDecisionAgeMs: 3 * 60_000,
    },
  ) {
    this.current = ruleSet;
    this.episodes = opts.episodes ?? new EpisodeTracker();
  }

  get ruleSet(): RuleSet {
    return this.current;
  }

  /** The rule's episode settings (null: every match decides), parsed once per loaded rule. */
  episodeSpec(rule: LoadedRule): EpisodeSpec | null {
    let spec = this.specs.get(rule);
    if (spec === undefined) this.specs.set(rule, (spec = episodeSpecOf(rule.params)));
    return spec;
  }

  /**
   * The remediation of `decisionId` ended stale: it never acted, so the incident is still unhandled.
   * Its cooldown is lifted and its episode decides again on its next matching observation.
   */
  staleEnded(entity: string, rule: string, decisionId: string): void {
    this.cooldowns.release(entity, rule, decisionId);
    this.episodes.staleEnded(entity, rule, decisionId);
  }

  /** Decides with `ruleSet` from the next observation on. */
  use(ruleSet: RuleSet): void {
    this.current = ruleSet;
  }

  /**
   * Decisions for one observation and the matches held back. A decision on a window that ended
   * more than the allowed age before `nowMs` is marked stale. `incident` is the classifier's
   * answer for the observation (null when rules-only). Synchronous unless a rule needed
   * json-rules-engine itself. `partition`: the input partition the observation came from, where
   * its episodes' changelog records go.
   *
   * `known`: the value of each of the rule set's `compiled.factNames` as factsFor would hold it
   * for this observation and answer, none a function, a thenable or a json-rules-engine Fact, and
   * no fact named "" (a backtest's skip check read them: see Inert). The compiled rules then
   * evaluate on those alone, and the facts object is built only for a decision: most observations
   * a replay decides match a rule whose episode holds the match, and building and loading all the
   * facts was most of their cost. The same result (CompiledRules.evaluateValues); ignored when a
   * rule runs in json-rules-engine.
   */
  decide(
    obs: Observation,
    nowMs: number,
    incident: IncidentFact | null = null,
    partition = 0,
    known?: readonly unknown[],
  ): Decided | Promise<Decided> {
    const set = this.current;
    const quick = known && set.compiled.evaluateValues(known);
    if (quick !== undefined) return this.build(set, obs, undefined, quick, nowMs, incident, partition);
    // json-rules-engine follows a `path` through own properties only, and the classifier's facts
    // read their probabilities through a getter: rules it runs get a plain copy (compiled rules
    // have no paths, and read `incident.class` and `incident.confidence` as facts of their own).
    const forRules =
      incident !== null && set.compiled.stats.fallback > 0 ? plainIncident(incident) : incident;
    const facts = factsFor(obs, set.context.factsFor(obs.entity, obs.window.end), forRules);
    const match = set.compiled.evaluate(facts);
    return match instanceof Promise
      ? match.then((m) => this.build(set, obs, facts, m, nowMs, incident, partition))
      : this.build(set, obs, facts, match, nowMs, incident, partition);
  }

  /** `given`: the facts the rules were evaluated on; undefined: built here if a decision needs them. */
  private build(
    set: RuleSet,
    obs: Observation,
    given: Record<string, unknown> | undefined,
    match: RuleSetMatch,
    nowMs: number,
    incident: IncidentFact | null,
    partition: number,
  ): Decided {
    const failures =
      match.errors.length === 0 ? [] : match.errors.map((e) => ({ rule: e.rule, message: e.error.message }));
    const decisions: Decision[] = [];
    const replayed: Decision[] = [];
    const suppressed: Suppressed[] = [];
    const held: Held[] = [];
    const out = { changes: [] as EpisodeChange[], ended: [] as EpisodeState[] };
    const steps = this.stepEpisodes(set, obs, match, partition, out);
    const decided = {
      decisions,
      replayed,
      suppressed,
      failures,
      held,
      episodeChanges: out.changes,
      episodesEnded: out.ended,
    };
    if (match.matched.length === 0) return decided;
    // Templates too walk dotted names through own properties (`{{incident.probabilities.memory_leak}}`).
    const recorded = incident && plainIncident(incident);
    // The facts and their audit copy, made at the first decision (most matches are held). Not in
    // closures: a closure made per call costs more than the rest of a held match here.
    let facts = given;
    if (facts !== undefined) facts.incident = recorded;
    let auditFacts: Record<string, unknown> | undefined;
    for (const name of match.matched) {
      const rule = set.byName.get(name);
      if (!rule) continue;
      const step = steps?.get(name);
      if (step && step.kind !== 'fire') {
        const reason = step.kind === 'pending' ? 'pending' : step.kind === 'late' ? 'late' : 'episode';
        held.push({
          rule: rule.name,
          entity: obs.entity,
          reason,
          ...(step.kind === 'pending' ? { heldMs: step.heldMs } : {}),
        });
        continue;
      }
      const episode = step?.kind === 'fire' ? step.state : undefined;
      let decisionId = episode
        ? episodeDecisionId(obs.entity, rule.name, episode)
        : decisionIdFor(obs.entity, rule.name, obs.window);
      const cooldownMs = parseDuration(rule.params.cooldown) ?? 0;
      const stale = nowMs - obs.window.end > this.opts.maxDecisionAgeMs;
      // The replay of a decision the episode made fresh (a stale fire is deferred, never kept as
      // the decided window), too old now: see `Decided.replayed`.
      const replay = step?.kind === 'fire' && step.replay && stale;
      if (step?.kind === 'fire' && stale && !step.replay) {
        // An episode does not spend its one decision on a window too old to act on: it decides on
        // the first fresh observation still matching. The first stale one is published for the
        // audit, under its own window's id.
        const audited = step.state.staleWindow !== undefined;
        this.episodes.defer(obs.entity, rule.name, out, audited ? undefined : obs.window);
        if (audited) {
          held.push({ rule: rule.name, entity: obs.entity, reason: 'stale' });
          continue;
        }
        decisionId = decisionIdFor(obs.entity, `${rule.name}#stale`, obs.window);
      } else if (
        !replay &&
        !this.cooldowns.admit(obs.entity, rule.name, decisionId, obs.window.end, cooldownMs, stale)
      ) {
        suppressed.push({ rule: rule.name, entity: obs.entity, reason: 'cooldown' });
        // Held by the cooldown, the episode decides once it has passed (if it still matches).
        if (step?.kind === 'fire' && !step.replay) this.episodes.defer(obs.entity, rule.name, out);
        continue;
      }
      if (facts === undefined) {
        facts = factsFor(obs, set.context.factsFor(obs.entity, obs.window.end), incident);
        facts.incident = recorded;
      }
      auditFacts ??= auditCopy(facts);
      const decision: Decision = {
        decisionId,
        entity: obs.entity,
        rule: rule.name,
        ruleVersion: rule.version,
        ruleSet: set.hash,
        mode: rule.params.mode,
        action: rule.params.action,
        args: expandTemplate(rule.params.args, facts) as Record<string, unknown>,
        actuator: rule.params.actuator,
        cooldown: rule.params.cooldown,
        approval: rule.params.approval,
        verify: rule.params.verify,
        ...followUp('onVerifyFailure', rule.params.onVerifyFailure, facts),
        ...followUp('escalate', rule.params.escalate, facts),
        incident: recorded && plainIncident(recorded),
        facts: auditFacts,
        window: obs.window,
        stale,
        ts: obs.window.end,
        ...(episode
          ? {
              episode: {
                start: episode.startWindow.start,
                window: episode.startWindow,
                heldMs: obs.window.end - episode.startWindow.end,
              },
            }
          : {}),
        ...(rule.params.priority !== undefined
          ? { priority: urgencyOf(rule.params.priority, urgencyFacts(facts)) }
          : {}),
      };
      withRunbooks(decision, this.opts.runbooks, rule, recorded, facts, obs.events);
      (replay ? replayed : decisions).push(decision);
    }
    return decided;
  }

  /** Advances the episode of every rule that opts in (matched or not); a rule that failed stays as it was. */
  private stepEpisodes(
    set: RuleSet,
    obs: Observation,
    match: RuleSetMatch,
    partition: number,
    out: { changes: EpisodeChange[]; ended: EpisodeState[] },
  ): Map<string, EpisodeStep> | undefined {
    let rules = this.episodic.get(set);
    if (rules === undefined) {
      rules = set.rules.flatMap((rule) => {
        const spec = this.episodeSpec(rule);
        return spec ? [{ rule, spec }] : [];
      });
      this.episodic.set(set, rules);
    }
    if (rules.length === 0) return undefined;
    const steps = new Map<string, EpisodeStep>();
    for (const { rule, spec } of rules) {
      if (match.errors.length > 0 && match.errors.some((e) => e.rule === rule.name)) continue;
      const matched = match.matched.includes(rule.name);
      steps.set(
        rule.name,
        this.episodes.observe(obs.entity, rule.name, matched, obs.window, spec, partition, out),
      );
    }
    return steps;
  }
}

/** The decisions' audit copy of the facts: all but the events and the incident (recorded apart). */
function auditCopy(facts: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { events: _events, incident: _incident, ...rest } = facts;
  return rest;
}

/**
 * Adds the runbook sections to a decision (and their links to its `page` escalation's args, unless
 * the rule set `runbooks` there itself): queried with its class (unless the model abstained), rule,
 * action, the features farthest from their normal and the recent events; none without runbooks.
 */
function withRunbooks(
  decision: Decision | undefined,
  runbooks: { index: Pick<RunbookIndex, 'find'>; hits: number } | undefined,
  rule: LoadedRule,
  incident: IncidentFact | null | undefined,
  facts: Readonly<Record<string, unknown>>,
  events: Observation['events'],
): void {
  if (!decision || !runbooks || runbooks.hits === 0) return;
  const features = Object.entries(facts)
    .filter((e): e is [string, number] => e[0].endsWith('.deviation') && typeof e[1] === 'number')
    .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
    .slice(0, 3)
    .map(([name]) => name);
  const hits = runbooks.index.find(
    {
      incidentClass: incident && incident.class !== 'unknown' ? incident.class : undefined,
      rule: rule.name,
      action: rule.params.action,
      features,
      text: events
        .slice(-10)
        .map((e) => `${e.kind} ${e.message}`)
        .join('\n'),
    },
    runbooks.hits,
  );
  if (hits.length === 0) return;
  decision.runbooks = hits.map(({ title, runbook, link, score }) => ({ title, runbook, link, score }));
  const page = decision.escalate;
  if (page?.action === 'page' && !('runbooks' in page.args)) {
    decision.escalate = {
      ...page,
      args: { ...page.args, runbooks: hits.map((h) => `${h.title}: ${h.link}`) },
    };
  }
}

function followUp<K extends 'onVerifyFailure' | 'escalate'>(
  key: K,
  step: FollowUp | undefined,
  context: Record<string, unknown>,
): Partial<Record<K, FollowUp>> {
  if (!step) return {};
  return { [key]: { action: step.action, args: expandTemplate(step.args, context) } } as Partial<
    Record<K, FollowUp>
  >;
}
