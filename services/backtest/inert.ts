import type { IncidentFact } from '../classifier/model-types.js';
import type { Observation } from '../common/contracts.js';
import { NO_CONTEXT_FACTS } from '../common/context/context-files.js';
import { factReader, isFeatureFact, plainFeatures, type FactReader } from '../common/facts.js';
import { generated } from '../common/generated-code.js';
import { compileConditions } from '../decide/compile-condition.js';
import { CompiledRules, type RuleInput } from '../decide/compiled-rules.js';
import type { RuleSet } from '../decide/rule-set.js';
import { BOUND_ALWAYS_FACT, boundRules } from './classifier-bound.js';

/** Rule subsets remembered, one per kind of observation (see Inert); beyond it the whole set answers. */
const MAX_SUBSETS = 256;
/** The most bits a subset's key may have (exact integers in a double). */
const MAX_KEY_BITS = 52;

/** What one rule's compiled conditions say about when it can be left out of the check. */
interface RuleHazards {
  readonly input: RuleInput;
  /** Runs in json-rules-engine, or is evaluated carefully whatever its facts: never left out. */
  readonly always: boolean;
  /** Bits (of the feature slots in the key) of the facts whose being undefined makes it false. */
  readonly killers: number;
  /** Slots whose value makes it careful when an object or symbol (named facts only; see `always`). */
  readonly coerced: readonly number[];
  /** Slots whose value makes it careful unless an array (named facts only; see `always`). */
  readonly indexed: readonly number[];
}

/** The rules left for one kind of observation, compiled, and where their facts are in the full slots. */
interface Subset {
  /** Undefined: no rule is left, nothing can match. */
  readonly compiled: CompiledRules | undefined;
  /** Full slot of each of the subset's slots; undefined when it is the whole set. */
  readonly from: readonly number[] | undefined;
  readonly unknown: readonly boolean[];
}

/**
 * Tells when the Decider, given an observation, would decide nothing, hold nothing back and fail
 * no rule: the compiled rules clear it from the facts they name alone (CompiledRules.cannotMatch,
 * each fact as factsFor would give it, read once per fact name). Such an observation changes the
 * Decider's cooldowns not at all (they change on matches only) and its episodes as a non-match of
 * every rule, so the replay steps the episodes and skips building its facts. Exact, not a
 * heuristic: anything the check cannot clear goes through the Decider.
 *
 * Most rules are false on most observations because a feature they need is absent (a CPU series
 * has no `errors.*`), and cannotMatch would mark them so on every call. Here they are left out
 * before it runs: per kind of observation (which of those features are undefined, and the type of
 * the named facts that can make a rule careful) the rules that are surely false and cannot throw
 * (a feature they need is undefined, and none of their facts makes them careful) are dropped, and
 * the rest are compiled once into a CompiledRules of their own. Dropping them changes nothing:
 * cannotMatch skips exactly those (dead, not careful). Observations whose facts are not plain
 * data (a feature that is not a number, a function or thenable fact) go to the whole set.
 */
export class Inert {
  private readonly loadFeatures: FeatureLoader;
  /** The other slots (the entity, its events, context and classifier facts), and their readers. */
  private readonly namedSlots: readonly number[];
  private readonly namedReaders: readonly FactReader[];
  private readonly values: unknown[];
  /** The facts the classifier gives, by slot. */
  private readonly unknown: readonly boolean[];
  /** Whether testUnclassified can clear anything: no rule reads the whole `incident` fact. */
  readonly canClearUnclassified: boolean;
  private readonly hazards: readonly RuleHazards[] | undefined;
  /** Named slots whose type is part of the key (two bits each: array, object or symbol). */
  private readonly typed: readonly number[];
  /** The key's first bit for the typed facts (after the killer features'). */
  private readonly typedBit: number;
  private readonly subsets = new Map<number, Subset>();
  private readonly whole: Subset;
  /** Whether the last read checked every value for functions and thenables (see CompiledRules.cannotMatch's `plain`). */
  private checked = false;

  constructor(
    private readonly set: RuleSet,
    rules: readonly RuleInput[] = set.rules,
    private readonly compiled: CompiledRules = set.compiled,
  ) {
    const names = compiled.factNames;
    const slotOf = new Map(names.map((n, s) => [n, s]));
    const readers = names.map((n) => (n === BOUND_ALWAYS_FACT ? () => true : factReader(n)));
    const slots = names.map((_, s) => s);
    // The bound's own fact is no feature: it is read (always true) like the named facts.
    const isFeature = (s: number) => isFeatureFact(names[s]!) && names[s] !== BOUND_ALWAYS_FACT;
    const featureSlots = slots.filter(isFeature);
    this.namedSlots = slots.filter((s) => !isFeature(s));
    this.namedReaders = this.namedSlots.map((s) => readers[s]!);
    this.values = new Array<unknown>(names.length);
    this.unknown = names.map((n) => n === 'incident.class' || n === 'incident.confidence');
    this.canClearUnclassified = !names.includes('incident');
    this.whole = { compiled, from: undefined, unknown: this.unknown };

    // Each rule's hazards, in the full set's slots; the killer features get a bit each.
    const bitOf = new Map<number, number>();
    const typed = new Set<number>();
    const hazards: RuleHazards[] = [];
    for (const input of rules) {
      const c = compileConditions(input.conditions, (fact) => slotOf.get(fact) ?? -1);
      if ('reason' in c) {
        hazards.push({ input, always: true, killers: 0, coerced: [], indexed: [] });
        continue;
      }
      const { killers, coerced, indexed, alwaysCareful } = c.compiled;
      const feature = (s: number) => s >= 0 && isFeature(s);
      let bits = 0;
      for (const s of killers) {
        if (!feature(s)) continue;
        if (!bitOf.has(s)) bitOf.set(s, bitOf.size);
        bits |= 2 ** bitOf.get(s)!;
      }
      for (const s of [...coerced, ...indexed]) if (!feature(s)) typed.add(s);
      hazards.push({
        input,
        // A feature is a number or undefined here: never an object, never an array.
        always:
          alwaysCareful || [...indexed].some(feature) || [...killers, ...coerced, ...indexed].includes(-1),
        killers: bits,
        coerced: [...coerced].filter((s) => !feature(s)),
        indexed: [...indexed],
      });
    }
    this.typed = [...typed];
    this.typedBit = 2 ** bitOf.size;
    this.hazards = bitOf.size + 2 * typed.size <= MAX_KEY_BITS && bitOf.size <= 30 ? hazards : undefined;
    this.loadFeatures = featureLoader(
      featureSlots.map((s) => names[s]!),
      featureSlots,
      featureSlots.map((s) => readers[s]!),
      featureSlots.map((s) => (this.hazards && bitOf.has(s) ? 2 ** bitOf.get(s)! : 0)),
    );
  }

  /** An Inert over boundBeyondClassifier's rules: what it clears needs no classifier; undefined where that is not exact. */
  static beyondClassifier(set: RuleSet, opts: { readonly onlyReaders?: boolean } = {}): Inert | undefined {
    const rules = boundRules(set.rules, opts);
    return rules && new Inert(set, rules, new CompiledRules(rules));
  }

  /**
   * True when the Decider would match no rule and fail none on `obs` with this classifier answer.
   * `sensed`: the caller vouches that `obs` comes from sense's windows (EntityWindows), whose
   * features are always plain (an object literal of `<metric>.<stat>` names: never "" nor
   * `__proto__`), so plainFeatures need not look.
   */
  test(obs: Observation, incident: IncidentFact | null, sensed = false): boolean {
    const subset = this.read(obs, incident, sensed);
    return subset !== undefined && check(subset, this.values, false, this.checked);
  }

  /**
   * The same before the classifier ran: true only when no answer of it could make a rule match
   * or fail (its class and confidence are primitives; a rule reading the whole `incident` fact
   * makes this unusable, see canClearUnclassified).
   */
  testUnclassified(obs: Observation, sensed = false): boolean {
    const subset = this.read(obs, null, sensed);
    return subset !== undefined && check(subset, this.values, true, this.checked);
  }

  /**
   * The value of each of the rule set's facts (its compiled `factNames`) the last test or
   * testUnclassified read, as factsFor would hold it, when that read checked every one (plain
   * features, no function or thenable); undefined otherwise. What Decider.decide takes as `known`
   * for the same observation and answer; the next test overwrites them.
   */
  get checkedValues(): readonly unknown[] | undefined {
    return this.checked ? this.values : undefined;
  }

  /** Fills `values` as factsFor would hold each fact, and gives the rules to check; undefined when the features are not plain. */
  private read(obs: Observation, incident: IncidentFact | null, sensed: boolean): Subset | undefined {
    this.checked = false;
    if (!sensed && !plainFeatures(obs)) return undefined;
    const { values, namedSlots, namedReaders } = this;
    const undefinedKillers = this.loadFeatures(obs.features, values, obs, incident);
    if (namedSlots.length > 0) {
      const context = this.set.context.factsFor(obs.entity, obs.window.end);
      for (let i = 0; i < namedSlots.length; i++)
        values[namedSlots[i]!] = namedReaders[i]!(obs, context, incident);
    }
    if (this.hazards === undefined || undefinedKillers < 0) return this.whole;
    // The key: which killer features are undefined, then each typed fact's type.
    let key = undefinedKillers;
    let bit = this.typedBit;
    for (const s of this.typed) {
      const v = values[s];
      if (typeof v === 'function') return this.whole;
      if (typeof v === 'object' && v !== null) {
        if (typeof (v as { then?: unknown }).then === 'function') return this.whole;
        key += bit * (Array.isArray(v) ? 3 : 2);
      } else if (typeof v === 'symbol') key += bit * 2;
      bit *= 4;
    }
    // A function or thenable in a slot of a rule left out would make the whole set say "maybe".
    for (let i = 0; i < namedSlots.length; i++) {
      const v = values[namedSlots[i]!];
      if (typeof v === 'function') return this.whole;
      if (typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function')
        return this.whole;
    }
    // Every value is now a number or undefined (a feature), or neither a function nor a thenable.
    this.checked = true;
    return this.subsets.get(key) ?? this.subsetFor(key, undefinedKillers);
  }

  /** The rules that are not surely false and safe on this kind of observation, compiled. */
  private subsetFor(key: number, undefinedKillers: number): Subset {
    const values = this.values;
    const kept = this.hazards!.filter((h) => {
      if (h.always || (h.killers & undefinedKillers) === 0) return true;
      for (const s of h.coerced) {
        const v = values[s];
        if ((typeof v === 'object' && v !== null) || typeof v === 'symbol') return true;
      }
      for (const s of h.indexed) if (!Array.isArray(values[s])) return true;
      return false;
    });
    let subset: Subset;
    if (kept.length === this.hazards!.length) subset = this.whole;
    else if (kept.length === 0) subset = { compiled: undefined, from: undefined, unknown: [] };
    else {
      const compiled = new CompiledRules(kept.map((h) => h.input));
      const full = new Map(this.compiled.factNames.map((n, s) => [n, s]));
      const from = compiled.factNames.map((n) => full.get(n)!);
      subset = { compiled, from, unknown: from.map((s) => this.unknown[s]!) };
    }
    if (this.subsets.size < MAX_SUBSETS) this.subsets.set(key, subset);
    return subset;
  }
}

/** cannotMatch of the subset's rules on the full slots' values `full` (the classifier's facts unknown when `unknown`). */
function check(subset: Subset, full: readonly unknown[], unknown: boolean, plain: boolean): boolean {
  const { compiled, from } = subset;
  if (compiled === undefined) return true;
  return compiled.cannotMatch(full, unknown ? subset.unknown : undefined, from, plain);
}

/**
 * Writes the feature facts the rules read from `features` into `values` at their slots; returns
 * the bits of the killer features that are undefined, or -1 when a feature is not a number.
 */
type FeatureLoader = (
  features: Readonly<Record<string, unknown>>,
  values: unknown[],
  obs: Observation,
  incident: IncidentFact | null,
) => number;

/**
 * A FeatureLoader with each fact name written into its own read (`f["cpu.avg"]`), as
 * classifier/vectorize.ts's numericWriter does: such a read keeps an inline cache of the few
 * feature shapes a fleet's observations have, and answers an absent name (most of the rules'
 * facts) from it too, where a read by a name held in a variable goes megamorphic (it was the
 * largest cost of the replay's skip). Numbers and absent features are taken as read (factReader's
 * own fast case: Object.prototype holds no numbers), anything else through the fact's reader. The
 * names enter the source as JSON string literals; where code generation is disallowed the loop
 * reads by name.
 */
function featureLoader(
  names: readonly string[],
  slots: readonly number[],
  readers: readonly FactReader[],
  bits: readonly number[],
): FeatureLoader {
  const byName: FeatureLoader = (features, values, obs, incident) => {
    let undefinedKillers = 0;
    let plain = true;
    for (let i = 0; i < slots.length; i++) {
      let value = features[names[i]!];
      if (value === undefined) undefinedKillers |= bits[i]!;
      else if (typeof value !== 'number') {
        value = readers[i]!(obs, NO_CONTEXT_FACTS, incident);
        plain = false;
      }
      values[slots[i]!] = value;
    }
    return plain ? undefinedKillers : -1;
  };
  const body = slots
    .map(
      (slot, i) =>
        `v = f[${JSON.stringify(names[i])}]; ` +
        `if (v === undefined) { ${bits[i] ? `m |= ${bits[i]};` : ''} } ` +
        `else if (typeof v !== 'number') { v = readers[${i}](obs, none, incident); p = false; } ` +
        `values[${slot}] = v;`,
    )
    .join('\n');
  return (
    generated<FeatureLoader>(
      ['readers', 'none'],
      `return function (f, values, obs, incident) {\nlet v, m = 0, p = true;\n${body}\nreturn p ? m : -1;\n};`,
      readers,
      NO_CONTEXT_FACTS,
    ) ?? byName
  );
}
