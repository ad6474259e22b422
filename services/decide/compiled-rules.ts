import { Engine, type EngineResult, Fact, Rule, type TopLevelCondition } from 'json-rules-engine';
import { generated } from '../common/generated-code.js';
import { compileConditions, type Predicate } from './compile-condition.js';
import { RuleLoadError } from './rule-file.js';

/** A rule to evaluate: json-rules-engine's name, priority and conditions. */
export interface RuleInput {
  readonly name: string;
  readonly priority: number;
  readonly conditions: Record<string, unknown>;
}

/** A rule whose evaluation threw (json-rules-engine would have rejected the run). */
export interface RuleError {
  readonly rule: string;
  readonly error: Error;
}

/** The rules that hold on one facts object, and the rules that failed to evaluate. */
export interface RuleSetMatch {
  readonly matched: string[];
  readonly errors: RuleError[];
}

/** One rule in evaluation order (priority desc, then input order). */
interface Entry {
  readonly name: string;
  readonly engines: SoloEngines;
  readonly fast: Predicate | undefined;
  readonly careful: Predicate | undefined;
  readonly alwaysCareful: boolean;
  /** The slots its conditions read. */
  readonly reads: readonly number[];
  /** The slots that make it false when undefined, careful when an object or symbol, careful unless an array. */
  readonly killers: readonly number[];
  readonly coerced: readonly number[];
  readonly indexed: readonly number[];
}

/**
 * Evaluates rules as json-rules-engine (`allowUndefinedFacts: true`, one rule per engine) would,
 * but with condition trees compiled to synchronous predicates; json-rules-engine stays the
 * authority, and runs the rules the compiler cannot mirror with certainty (a `path`, `params`, a
 * condition reference, a custom operator) and any evaluation whose facts are not plain data.
 */
export class CompiledRules {
  /** How many rules were compiled vs run through json-rules-engine (for a metric/log). */
  readonly stats: { readonly compiled: number; readonly fallback: number };
  /** Each rule that runs through json-rules-engine, and why it could not be compiled. */
  readonly fallbacks: readonly { readonly rule: string; readonly reason: string }[];

  private readonly entries: readonly Entry[];
  private readonly slotOf = new Map<string, number>();
  /** The fact name of each slot. */
  private readonly slotNames: string[] = [];
  /** Fact values of the current evaluation, by slot; reused so that evaluating allocates little. */
  private readonly slots: unknown[] = [];
  /** Per slot: rules that are false when the fact is undefined (the skip index). */
  private readonly deadIfUndefined: (readonly number[])[] = [];
  /** Per slot: rules that may throw when the fact is an object or symbol. */
  private readonly carefulIfObject: (readonly number[])[] = [];
  /** Per slot: rules that may throw when the fact is not an array. */
  private readonly carefulUnlessArray: (readonly number[])[] = [];
  /** Stamps per entry: equal to `epoch` when skipped, or evaluated in json-rules-engine's order, this time. */
  private readonly dead: Int32Array;
  private readonly careful: Int32Array;
  private epoch = 0;
  /** clearedOnSlots as one generated function (see clearedFunction); undefined: the loop answers. */
  private readonly cleared: ClearedFunction | undefined;

  /** Refuses (RuleLoadError) rules json-rules-engine would refuse, and duplicate names. */
  constructor(rules: readonly RuleInput[]) {
    const problems: string[] = [];
    const seen = new Set<string>();
    const ordered: { input: RuleInput; priority: number; index: number }[] = [];
    for (const [index, input] of rules.entries()) {
      const where = `rule ${JSON.stringify(input.name)}`;
      if (typeof input.name !== 'string' || input.name === '') {
        problems.push(`rule #${index}: name: must be a non-empty string`);
        continue;
      }
      if (seen.has(input.name)) problems.push(`${where}: name: used by another rule`);
      seen.add(input.name);
      if (input.conditions === null || typeof input.conditions !== 'object') {
        problems.push(`${where}: conditions: must be an object`);
        continue;
      }
      try {
        const priority = toEngineRule(input).priority ?? Number.NaN;
        if (Number.isNaN(priority)) problems.push(`${where}: priority: must be a number >= 1`);
        ordered.push({ input, priority, index });
      } catch (err) {
        problems.push(`${where}: ${(err as Error).message}`);
      }
    }
    if (problems.length > 0) throw new RuleLoadError(problems);
    ordered.sort((a, b) => b.priority - a.priority || a.index - b.index);

    const slotFor = (fact: string) => {
      let slot = this.slotOf.get(fact);
      if (slot === undefined) {
        slot = this.slotOf.size;
        this.slotOf.set(fact, slot);
        this.slotNames.push(fact);
        this.slots.push(undefined);
        for (const list of [this.deadIfUndefined, this.carefulIfObject, this.carefulUnlessArray])
          list.push([]);
      }
      return slot;
    };
    const fallbacks: { rule: string; reason: string }[] = [];
    this.entries = ordered.map(({ input }, i) => {
      const reads = new Set<number>();
      const result = compileConditions(input.conditions, (fact) => {
        const slot = slotFor(fact);
        reads.add(slot);
        return slot;
      });
      const engines = new SoloEngines(input);
      if ('reason' in result) {
        fallbacks.push({ rule: input.name, reason: result.reason });
        return {
          name: input.name,
          engines,
          fast: undefined,
          careful: undefined,
          alwaysCareful: false,
          reads: [],
          killers: [],
          coerced: [],
          indexed: [],
        };
      }
      const c = result.compiled;
      for (const s of c.killers) (this.deadIfUndefined[s] as number[]).push(i);
      for (const s of c.coerced) (this.carefulIfObject[s] as number[]).push(i);
      for (const s of c.indexed) (this.carefulUnlessArray[s] as number[]).push(i);
      return {
        name: input.name,
        engines,
        fast: c.fast,
        careful: c.careful,
        alwaysCareful: c.alwaysCareful,
        reads: [...reads],
        killers: [...c.killers],
        coerced: [...c.coerced],
        indexed: [...c.indexed],
      };
    });
    this.fallbacks = fallbacks;
    this.stats = { compiled: this.entries.length - fallbacks.length, fallback: fallbacks.length };
    this.dead = new Int32Array(this.entries.length);
    this.careful = new Int32Array(this.entries.length);
    this.cleared = fallbacks.length === 0 ? clearedFunction(this.entries) : undefined;
  }

  /**
   * Names of the rules whose conditions hold on `facts`, highest priority first, ties in the order
   * given. An error evaluating one rule is reported for that rule only; the other rules still
   * evaluate. Synchronous unless a rule, or these facts, need json-rules-engine.
   */
  evaluate(facts: Readonly<Record<string, unknown>>): RuleSetMatch | Promise<RuleSetMatch> {
    if (!this.load(facts)) return this.settle(this.entries.map((e) => e.engines.matches(facts)));
    this.mark();
    if (this.stats.fallback === 0) return this.runCompiled();
    // Compiled rules are evaluated now, before `slots` can be reused by another call.
    return this.settle(
      this.entries.map((e, i) => (e.fast ? this.evaluateOne(e, i) : e.engines.matches(facts))),
    );
  }

  /**
   * `evaluate` on a facts object whose value under each of `factNames` is `values` at the same
   * index, for a caller that read only those facts (a backtest: see Decider.decide's `known`).
   * The caller vouches, as for cannotMatch's `plain`, that the object has no fact named "" and no
   * json-rules-engine Fact, and that no value is a function or a thenable: `evaluate` would load
   * the same slots and run the same compiled rules. Undefined when a rule runs in json-rules-engine
   * (it needs the facts object).
   */
  evaluateValues(values: readonly unknown[]): RuleSetMatch | undefined {
    if (this.stats.fallback > 0) return undefined;
    const slots = this.slots;
    for (let s = 0; s < slots.length; s++) slots[s] = values[s];
    this.mark();
    return this.runCompiled();
  }

  /** The names of the facts the compiled rules read, in the order `cannotMatch` takes their values. */
  get factNames(): readonly string[] {
    return this.slotNames;
  }

  /**
   * True only when `evaluate` is sure to match no rule and report no error on a facts object whose
   * value under each of `factNames` is `values` at the same index, whose names are not "" and whose
   * values are not json-rules-engine Facts (the caller vouches for those two: it knows its facts
   * object). It decides from the compiled predicates alone: false ("maybe") whenever a rule runs in
   * json-rules-engine, a fact is a function or a thenable, or a rule would be evaluated carefully
   * (it might throw). A backtest skips the observations this clears.
   *
   * `unknown[s]` true: the value of fact `s` is not known yet, only that it is a primitive that is
   * neither undefined nor a symbol (the classifier's `incident.class` and `incident.confidence`
   * before it ran). A rule reading such a fact is cleared only when a known fact it needs is
   * undefined (its killers) and nothing it reads could make it throw.
   *
   * `from`: the value of fact `s` is `values[from[s]]` instead (a caller holding a larger set's
   * values need not copy them out). `plain`: the caller vouches too that no value is a function
   * or a thenable (it checked them), and they are not checked again.
   */
  cannotMatch(
    values: readonly unknown[],
    unknown?: readonly boolean[],
    from?: readonly number[],
    plain = false,
  ): boolean {
    if (this.stats.fallback > 0) return false;
    const slots = this.slots;
    if (plain)
      for (let s = 0; s < slots.length; s++)
        slots[s] = unknown?.[s] ? null : from === undefined ? values[s] : values[from[s]!];
    else if (!this.loadChecked(values, unknown, from)) return false;
    return this.cleared !== undefined ? this.cleared(slots, unknown) : this.clearedOnSlots(unknown);
  }

  /** cannotMatch's load of `slots` with the values' checks; false when one is a function or thenable. */
  private loadChecked(
    values: readonly unknown[],
    unknown: readonly boolean[] | undefined,
    from: readonly number[] | undefined,
  ): boolean {
    const slots = this.slots;
    for (let s = 0; s < slots.length; s++) {
      const value = from === undefined ? values[s] : values[from[s]!];
      if (typeof value === 'function') return false;
      if (
        typeof value === 'object' &&
        value !== null &&
        typeof (value as { then?: unknown }).then === 'function'
      )
        return false;
      // null stands for an unknown primitive: never undefined (kills nothing), never an array.
      slots[s] = unknown?.[s] ? null : value;
    }
    return true;
  }

  /** The rest of cannotMatch, on the loaded slots. */
  private clearedOnSlots(unknown: readonly boolean[] | undefined): boolean {
    this.mark();
    const { entries, epoch, careful, dead, slots } = this;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.alwaysCareful || careful[i] === epoch) return false;
      if (dead[i] === epoch) continue;
      if (unknown && e.reads.some((s) => unknown[s])) return false;
      try {
        if (e.fast!(slots)) return false;
      } catch {
        return false;
      }
    }
    return true;
  }

  /**
   * Fills the slots the way engine.run reads runtime facts (for...in, the key as the fact id).
   * False when the facts are not plain data, and json-rules-engine must run every rule: a fact
   * named "" (engine.run throws), a json-rules-engine Fact (registered under its own id), or a
   * function or thenable that a rule reads (a dynamic fact, an awaited value).
   */
  private load(facts: Readonly<Record<string, unknown>>): boolean {
    const slots = this.slots;
    slots.fill(undefined);
    for (const key in facts) {
      const value = facts[key];
      if (key === '') return false;
      const isObject = typeof value === 'object' && value !== null;
      if (isObject && value instanceof Fact) return false;
      const slot = this.slotOf.get(key);
      if (slot === undefined) continue;
      if (typeof value === 'function') return false;
      if (isObject && typeof (value as { then?: unknown }).then === 'function') return false;
      slots[slot] = value;
    }
    return true;
  }

  /** Stamps the rules this evaluation skips (a fact they need is undefined) or evaluates carefully. */
  private mark(): void {
    if (++this.epoch === 0x7fffffff) {
      this.dead.fill(0);
      this.careful.fill(0);
      this.epoch = 1;
    }
    const { epoch, slots, dead, careful } = this;
    for (let s = 0; s < slots.length; s++) {
      const x = slots[s];
      let stamps: readonly number[];
      if (x === undefined) {
        stamps = this.deadIfUndefined[s]!;
        for (let i = 0; i < stamps.length; i++) dead[stamps[i]!] = epoch;
      } else if ((typeof x === 'object' && x !== null) || typeof x === 'symbol') {
        stamps = this.carefulIfObject[s]!;
        for (let i = 0; i < stamps.length; i++) careful[stamps[i]!] = epoch;
        if (Array.isArray(x)) continue;
      }
      stamps = this.carefulUnlessArray[s]!;
      for (let i = 0; i < stamps.length; i++) careful[stamps[i]!] = epoch;
    }
  }

  private runCompiled(): RuleSetMatch {
    const matched: string[] = [];
    const errors: RuleError[] = [];
    const entries = this.entries;
    for (let i = 0; i < entries.length; i++) {
      const outcome = this.evaluateOne(entries[i]!, i);
      if (outcome === true) matched.push(entries[i]!.name);
      else if (outcome !== false) errors.push({ rule: entries[i]!.name, error: outcome });
    }
    return { matched, errors };
  }

  /** One compiled rule on the loaded slots: whether it holds, or what it threw. */
  private evaluateOne(e: Entry, i: number): boolean | Error {
    try {
      if (e.alwaysCareful || this.careful[i] === this.epoch) return e.careful!(this.slots);
      return this.dead[i] !== this.epoch && e.fast!(this.slots);
    } catch (err) {
      return asError(err);
    }
  }

  /** The match of outcomes in evaluation order, some of them from json-rules-engine. */
  private async settle(outcomes: readonly (boolean | Error | Promise<boolean>)[]): Promise<RuleSetMatch> {
    const settled = await Promise.all(
      outcomes.map((o) => (o instanceof Promise ? o.catch((err: unknown) => asError(err)) : o)),
    );
    const matched: string[] = [];
    const errors: RuleError[] = [];
    settled.forEach((outcome, i) => {
      const rule = this.entries[i]!.name;
      if (outcome === true) matched.push(rule);
      else if (outcome !== false) errors.push({ rule, error: outcome });
    });
    return { matched, errors };
  }
}

/** clearedOnSlots on `slots` (filled), `unknown` as cannotMatch takes it. */
type ClearedFunction = (slots: readonly unknown[], unknown: readonly boolean[] | undefined) => boolean;

/**
 * clearedOnSlots for these (compiled) entries as one function: each rule's checks written out on
 * its own slots, and its fast predicate called at a call site of its own (which the optimizing
 * compiler can inline), where clearedOnSlots stamps every slot's rules first (mark) and calls every
 * predicate from one shared call site. The same answer: a rule evaluated carefully answers "maybe"
 * (false) before one that is dead is skipped, an unknown fact it reads or a match or a throw answers
 * false. Undefined where code generation is disallowed.
 */
function clearedFunction(entries: readonly Entry[]): ClearedFunction | undefined {
  const lines: string[] = [];
  for (const [i, e] of entries.entries()) {
    if (e.alwaysCareful) {
      lines.push('return false;');
      break;
    }
    const careful = [
      ...e.coerced.map(
        (s) => `(x = v[${s}], (typeof x === 'object' && x !== null) || typeof x === 'symbol')`,
      ),
      ...e.indexed.map((s) => `!Array.isArray(v[${s}])`),
    ];
    if (careful.length > 0) lines.push(`if (${careful.join(' || ')}) return false;`);
    const check = [
      ...(e.reads.length > 0
        ? [`if (u && (${e.reads.map((s) => `u[${s}]`).join(' || ')})) return false;`]
        : []),
      `try { if (f[${i}](v)) return false; } catch { return false; }`,
    ];
    const dead = e.killers.map((s) => `v[${s}] === undefined`);
    lines.push(dead.length > 0 ? `if (!(${dead.join(' || ')})) { ${check.join(' ')} }` : check.join(' '));
  }
  return generated<ClearedFunction>(
    ['f'],
    `return function cleared(v, u) {\nlet x;\n${lines.join('\n')}\nreturn true;\n};`,
    entries.map((e) => e.fast),
  );
}

/**
 * json-rules-engine Engines holding one rule each, used one run at a time: an Engine keeps its run
 * status on itself, and a run that finishes while another is starting makes that one skip its rules.
 */
class SoloEngines {
  private readonly idle: Engine[] = [];

  constructor(private readonly rule: RuleInput) {}

  /** Whether json-rules-engine emits the rule's event on `facts`; rejects with the rule's error. */
  matches(facts: Readonly<Record<string, unknown>>): Promise<boolean> {
    const engine = this.idle.pop() ?? this.create();
    let run: Promise<EngineResult>;
    try {
      run = engine.run(facts);
    } catch (err) {
      return Promise.reject(asError(err));
    }
    // A rejected run finishes its engine's status later; that engine is dropped, not reused.
    return run.then((result) => {
      this.idle.push(engine);
      return result.results.length > 0;
    });
  }

  private create(): Engine {
    const engine = new Engine([], { allowUndefinedFacts: true });
    engine.addRule(toEngineRule(this.rule));
    return engine;
  }
}

/** json-rules-engine's Rule for `input`, on a copy: its Condition constructor rewrites leaf priorities in place. */
function toEngineRule(input: RuleInput): Rule {
  return new Rule({
    name: input.name,
    priority: input.priority,
    conditions: copyTree(input.conditions) as TopLevelCondition,
    event: { type: 'match' },
  });
}

/** Copies the plain objects and arrays of a condition tree; other values are shared. */
function copyTree(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(copyTree);
  if (x === null || typeof x !== 'object' || Object.getPrototypeOf(x) !== Object.prototype) return x;
  return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, copyTree(v)]));
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
