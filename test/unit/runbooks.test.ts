/**
 * Runbooks as domain knowledge: the shipped runbooks' front matter links only to real classes and
 * rules; for every scenario class the class's runbook ranks first (hand-written queries and the
 * simulator's own rows); a bad front matter is refused with file, line and fix; Chinese finds
 * Chinese; and `autoglm runbooks search` prints the sections.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { runbooksCommand } from '../../cli/runbooks-command.js';
import { repoRoot } from '../../infra/paths.js';
import { generateScenarios, SCENARIO_CLASSES } from '../../services/classifier/scenarios.js';
import { decisionSchema, type Decision, type Observation } from '../../services/common/contracts.js';
import { Decider } from '../../services/decide/decider.js';
import { parseRuleFile } from '../../services/decide/rule-file.js';
import { ruleSetOf } from '../../services/decide/rule-set.js';
import { parseRunbook, readRunbookDir, RunbookLoadError } from '../../services/runbooks/runbook-files.js';
import { RunbookIndex } from '../../services/runbooks/runbook-index.js';
import { runbookTerms } from '../../services/runbooks/runbook-tokens.js';

const dir = path.join(repoRoot, 'runbooks');
const sections = readRunbookDir(dir);
const index = new RunbookIndex(sections);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'runbooks-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Each incident class, the rule that remediates it, its top features and a typical event. */
const INCIDENTS = {
  cpu_saturation: ['cpu-saturation-scale-out', ['cpu.avg', 'cpu.deviation'], 'CPUThrottlingHigh'],
  memory_leak: ['memory-leak-restart', ['mem.slope', 'mem.avg'], 'OOMKilled'],
  bad_deploy: [
    'error-spike-after-deploy-rollback',
    ['errors.avg', 'errors.deviation'],
    'deployed checkout v2.3.1',
  ],
  disk_pressure: [
    'disk-pressure-clean-up',
    ['disk.max', 'disk.avg'],
    'write failed: no space left on device',
  ],
  dependency_outage: [
    'dependency-outage-open-circuit-breaker',
    ['upstream_errors.avg'],
    'connection refused',
  ],
} as const;
const fileOf = (cls: string) => `runbooks/${cls.replace(/_/g, '-')}.md`;
/** The sections an operator needs first for an incident: what it is, and what to check. */
const rightFirst = (cls: string, title: string) => [
  `${fileOf(cls)}#${title.toLowerCase().replace(/ /g, '-')}`,
  `${fileOf(cls)}#what-to-check`,
];

describe('shipped runbooks', () => {
  it('cover every incident class of the simulator and link only to real classes and rules', () => {
    const rules = new Set(
      fs
        .readdirSync(path.join(repoRoot, 'rules'))
        .filter((f) => f.endsWith('.json') && !f.endsWith('.test.json') && f !== 'rule.schema.json')
        .map((f) => f.replace(/\.json$/, '')),
    );
    for (const s of sections) {
      for (const c of s.runbook.classes)
        assert.ok((SCENARIO_CLASSES as readonly string[]).includes(c), `${s.file}: ${c}`);
      for (const r of s.runbook.rules) assert.ok(rules.has(r), `${s.file}: rule ${r} is not in rules/`);
    }
    for (const cls of SCENARIO_CLASSES.filter((c) => c !== 'healthy')) {
      const own = sections.filter((s) => s.runbook.classes.includes(cls) && s.runbook.lang === 'en');
      assert.ok(own.length >= 4, `${cls} has ${own.length} English sections`);
      assert.ok(
        own.some((s) => s.anchor === 'what-to-check'),
        `${cls} has no "What to check"`,
      );
      assert.ok(
        own.some((s) => s.anchor === 'when-to-escalate'),
        `${cls} has no "When to escalate"`,
      );
    }
  });

  for (const [cls, [rule, features, event]] of Object.entries(INCIDENTS)) {
    it(`${cls}: its runbook's section ranks first for the class, rule, top features and an event`, () => {
      const hits = index.find({ incidentClass: cls, rule, features, text: event });
      const top = hits[0];
      assert.ok(top, 'no hit');
      const title =
        sections.find((s) => `runbooks/${s.file}` === fileOf(cls))?.runbook.title.split(' (')[0] ?? '';
      assert.ok(rightFirst(cls, title).includes(top.link), `${cls}: first is ${top.link}`);
      assert.ok(
        hits.every((h, i) => i === 0 || h.score <= (hits[i - 1]?.score ?? 0)),
        'best first',
      );
    });
  }

  it("ranks each class's runbook first for the simulator's own rows (class, top deviations, events)", () => {
    const rows = generateScenarios({ rows: 600, seed: 23 }).filter((r) => r.label !== 'healthy');
    const wrong: string[] = [];
    for (const row of rows) {
      const features = Object.entries(row.features)
        .filter(([k]) => k.endsWith('.deviation'))
        .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
        .slice(0, 3)
        .map(([k]) => k);
      const text = row.events.map((e) => `${e.kind} ${e.message}`).join('\n');
      const top = index.find({ incidentClass: row.label, features, text }, 1)[0];
      if (!top?.link.startsWith(`${fileOf(row.label)}#`))
        wrong.push(`${row.label} -> ${top?.link} (${text})`);
    }
    assert.ok(rows.length > 250, `${rows.length} rows`);
    assert.deepEqual(wrong, []);
  });

  it('without the class, the event text alone still finds the right runbook', () => {
    assert.match(
      index.find({ text: 'node condition DiskPressure, evicting pods' })[0]?.link ?? '',
      /disk-pressure\.md#/,
    );
    assert.match(
      index.find({ text: 'upstream timeout payments-db' })[0]?.link ?? '',
      /dependency-outage\.md#/,
    );
    assert.match(
      index.find({ text: 'OOMKilled, Back-off restarting failed container' })[0]?.link ?? '',
      /memory-leak\.md#/,
    );
  });

  it('a Chinese query finds the Chinese section, an English one the English runbook', () => {
    const zh = index.find({ text: '发布后错误率升高,需要回滚吗' });
    assert.equal(zh[0]?.lang, 'zh');
    assert.match(zh[0]?.link ?? '', /^runbooks\/bad-deploy\.zh\.md#/);
    assert.equal(index.find({ text: '回滚无效' })[0]?.link, 'runbooks/bad-deploy.zh.md#回滚无效时');
    assert.equal(index.find({ incidentClass: 'bad_deploy', text: '5xx spike after deploy' })[0]?.lang, 'en');
  });

  it('splits Chinese into character pairs and identifiers whole and in parts', () => {
    assert.deepEqual(runbookTerms('磁盘空间'), ['磁盘', '盘空', '空间']);
    assert.deepEqual(runbookTerms('mem.slope errors'), ['mem_slope', 'mem', 'slope', 'error']);
    assert.deepEqual(runbookTerms('the 5xx 错误'), ['5xx', '错误']);
  });

  it('refuses an empty query', () => {
    assert.throws(() => index.find({ text: '  ' }), /query is empty/);
  });
});

describe('runbook front matter', () => {
  const refused = (text: string) => {
    try {
      parseRunbook('bad.md', text);
    } catch (err) {
      assert.ok(err instanceof RunbookLoadError, String(err));
      return err.problems;
    }
    assert.fail('not refused');
  };

  it('reads title, links and language, and one section per heading with its anchor', () => {
    const s = parseRunbook(
      'x.md',
      '---\ntitle: X\nclasses: [cpu_saturation]\nrules: []\nlang: zh\n---\nintro\n# Top\n```\n# not a heading\n```\n## Top\ntext\n',
    );
    assert.deepEqual(
      s.map((x) => [x.anchor, x.title, x.level]),
      [
        ['', 'X', 0],
        ['top', 'Top', 1],
        ['top-1', 'Top', 2],
      ],
    );
    assert.deepEqual(s[0]?.runbook, {
      title: 'X',
      classes: ['cpu_saturation'],
      rules: [],
      actions: [],
      lang: 'zh',
    });
    assert.match(s[1]?.text ?? '', /# not a heading/);
  });

  it('refuses each mistake with the file, line and fix', () => {
    assert.deepEqual(refused('# no front matter\n'), [
      'bad.md:1: no front matter; start the file with a line "---", then "title: …" (and classes, rules, actions, lang), then "---"',
    ]);
    assert.deepEqual(refused('---\ntitle: X\n# x\n'), [
      'bad.md:1: the front matter is not closed; add a line "---" after its last key',
    ]);
    assert.deepEqual(refused('---\ntitle: X\nclass: [cpu_saturation]\nrules: a, b\nlang: fr\n---\n'), [
      'bad.md:3: unknown key "class"; use one of title, classes, rules, actions, lang',
      'bad.md:4: rules must be a list in brackets, e.g. "rules: [cpu-saturation-scale-out]"',
      'bad.md:5: lang "fr" is not supported; use one of en, zh',
    ]);
    assert.deepEqual(
      refused('---\nclasses: [CPU Saturation]\nactions: [x]\nactions: [y]\njust words\n---\n'),
      [
        'bad.md:2: classes has "CPU Saturation"; each must be a name in lower case such as "cpu_saturation"',
        'bad.md:4: "actions" is given twice (first on line 3); keep one',
        'bad.md:5: "just words" is not "key: value"; write one key a line, e.g. "classes: [cpu_saturation]"',
        'bad.md:1: the front matter has no title; add "title: <the runbook\'s name>"',
      ],
    );
  });

  it('a folder with one bad runbook is refused whole, naming it', () => {
    const bad = path.join(tmp, 'bad-folder');
    fs.mkdirSync(bad);
    fs.writeFileSync(path.join(bad, 'good.md'), '---\ntitle: Good\n---\n# Good\n');
    fs.writeFileSync(path.join(bad, 'broken.md'), '---\ntitle: Broken\nclasses: cpu\n---\n');
    fs.writeFileSync(path.join(bad, 'README.md'), 'not a runbook, not read\n');
    assert.throws(
      () => readRunbookDir(bad),
      (err) =>
        err instanceof RunbookLoadError &&
        err.problems.length === 1 &&
        err.problems[0] ===
          'broken.md:3: classes must be a list in brackets, e.g. "classes: [cpu_saturation]"',
    );
  });
});

describe('autoglm runbooks', () => {
  const run = (...args: string[]) => {
    const lines: string[] = [];
    const code = runbooksCommand(args, {
      out: (t) => lines.push(...t.split('\n')),
      err: (t) => lines.push(...t.split('\n')),
    });
    return { code, lines };
  };

  it('search prints the best sections with score and link', () => {
    const { code, lines } = run(
      'search',
      'no space left on device',
      '--class',
      'disk_pressure',
      '--limit',
      '2',
    );
    assert.equal(code, 0);
    assert.equal(lines.length, 2);
    assert.match(lines[0] ?? '', /^\s+\d+\.\d  .+ \(Disk pressure\)  runbooks\/disk-pressure\.md#/);
    const json = run('search', '--class', 'memory_leak', '--json');
    assert.equal(JSON.parse(json.lines.join('\n'))[0].link.startsWith('runbooks/memory-leak.md#'), true);
  });

  it('check and search refuse a bad folder (exit 1) and bad arguments (exit 2)', () => {
    const bad = path.join(tmp, 'cli-bad');
    fs.mkdirSync(bad);
    fs.writeFileSync(path.join(bad, 'x.md'), '---\ntitle: X\nowner: me\n---\n');
    assert.deepEqual(run('check', '--dir', bad), {
      code: 1,
      lines: ['x.md:3: unknown key "owner"; use one of title, classes, rules, actions, lang'],
    });
    assert.equal(run('check').code, 0);
    assert.equal(run('search').code, 2);
    assert.equal(run('search', 'x', '--limit', '0').code, 2);
    assert.equal(run('find', 'x').code, 2);
  });
});

describe('decisions carry their runbook sections', () => {
  const ruleFile = path.join(repoRoot, 'test', 'fixtures', 'rules', 'cpu-static.json');
  const parsed = parseRuleFile(ruleFile, fs.readFileSync(ruleFile, 'utf8'));
  assert.ok('rule' in parsed);
  const T0 = 1_800_000_000_000;
  const observation: Observation = {
    entity: 'web-1',
    seq: 0,
    window: { start: T0 - 30_000, end: T0 },
    features: { 'cpu.avg': 93, 'cpu.count': 6 },
    events: [{ kind: 'alert', message: 'CPUThrottlingHigh', ts: T0 - 1000 }],
    ts: T0,
  };

  it("puts the best sections (title, runbook, score, link) into the decision's audit record", async () => {
    const decider = new Decider(ruleSetOf([parsed.rule]), {
      maxDecisionAgeMs: 180_000,
      runbooks: { index, hits: 2 },
    });
    const [decision] = (await decider.decide(observation, T0)).decisions;
    assert.ok(decision);
    const runbooks = decisionSchema.parse(decision).runbooks ?? [];
    assert.equal(runbooks.length, 2);
    assert.match(runbooks[0]?.link ?? '', /^runbooks\/cpu-saturation\.md#/);
    assert.deepEqual(Object.keys(runbooks[0] ?? {}).sort(), ['link', 'runbook', 'score', 'title']);
    assert.equal(decision.escalate?.action, 'page');
    assert.deepEqual(
      decision.escalate?.args.runbooks,
      runbooks.map((r) => `${r.title}: ${r.link}`),
      "the page's body links the same sections",
    );
  });

  it('without runbooks, or with 0 hits, a decision carries none', async () => {
    const options: Array<ConstructorParameters<typeof Decider>[1]> = [
      { maxDecisionAgeMs: 180_000 },
      { maxDecisionAgeMs: 180_000, runbooks: { index, hits: 0 } },
    ];
    for (const opts of options) {
      const decider: Decider = new Decider(ruleSetOf([parsed.rule]), opts);
      const decision: Decision | undefined = (await decider.decide(observation, T0)).decisions[0];
      assert.ok(decision);
      assert.equal('runbooks' in decision, false);
      assert.equal('runbooks' in (decision.escalate?.args ?? {}), false);
    }
  });
});
