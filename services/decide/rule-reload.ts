import { Counter, Gauge, type Registry } from 'prom-client';
import { FolderPoll } from '../common/folder-poll.js';
import type { Logger } from '../common/logger.js';
import type { Decider } from './decider.js';
import { ruleSetStamp, type RuleSet } from './rule-set.js';

/**
 * Hot reload of the rules folder: polls the files' names, sizes and times; on a change, loads and
 * checks the whole set (the same checks as at start) and swaps it into the decider at once. A set
 * with any problem is refused, logged with every problem and counted, and the last good set keeps
 * deciding. A refused set is not reported again until the files change again.
 */
export class RuleReloader {
  private readonly poll: FolderPoll;
  private readonly reloads: Counter<'result'>;
  private readonly refused: Gauge;
  private readonly info: Gauge<'hash'>;

  constructor(
    private readonly deps: {
      dir: string;
      decider: Decider;
      load: () => Promise<{ ruleSet?: RuleSet; problems: string[] }>;
      intervalMs: number;
      logger: Logger;
      registry: Registry;
    },
  ) {
    const registers = [deps.registry];
    this.poll = new FolderPoll(
      () => ruleSetStamp(deps.dir),
      () => this.reload(),
    );
    this.reloads = new Counter({
      name: 'autoglm_decide_rule_reloads_total',
      help: 'Rule folder changes by result (applied, refused, unchanged)',
      labelNames: ['result'],
      registers,
    });
    this.refused = new Gauge({
      name: 'autoglm_decide_rules_refused',
      help: '1 while the rules folder holds a refused change (the last good rule set keeps deciding)',
      registers,
    });
    this.info = new Gauge({
      name: 'autoglm_decide_rule_set_info',
      help: 'The rule set deciding now, by its hash (value 1)',
      labelNames: ['hash'],
      registers,
    });
    this.info.set({ hash: deps.decider.ruleSet.hash }, 1);
  }

  start(): this {
    this.poll.start(this.deps.intervalMs);
    return this;
  }

  /** Checks the folder once now (the timer calls this); resolves when any reload is done. */
  check(): Promise<void> {
    return this.poll.check();
  }

  stop(): Promise<void> {
    return this.poll.stop();
  }

  private async reload(): Promise<void> {
    const { logger, decider } = this.deps;
    let loaded: { ruleSet?: RuleSet; problems: string[] };
    try {
      loaded = await this.deps.load();
    } catch (err) {
      loaded = { problems: [(err as Error).message] };
    }
    const previous = decider.ruleSet;
    if (!loaded.ruleSet) {
      this.reloads.inc({ result: 'refused' });
      this.refused.set(1);
      logger.error(
        { dir: this.deps.dir, problems: loaded.problems, keeping: previous.hash },
        'changed rules refused; the last good rule set keeps deciding',
      );
      return;
    }
    this.refused.set(0);
    if (loaded.ruleSet.hash === previous.hash) {
      this.reloads.inc({ result: 'unchanged' });
      return;
    }
    decider.use(loaded.ruleSet);
    this.info.reset();
    this.info.set({ hash: loaded.ruleSet.hash }, 1);
    this.reloads.inc({ result: 'applied' });
    logger.info(
      {
        from: previous.hash,
        to: loaded.ruleSet.hash,
        rules: loaded.ruleSet.rules.map((r) => `${r.name}@${r.version}`),
      },
      'rules reloaded',
    );
  }
}
