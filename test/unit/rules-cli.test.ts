/**
 * `autoglm rules check|test|explain` on good and bad rule files, with the exact messages a policy
 * author reads. Runs the command in-process (the exit code through the real binary once).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from '../../infra/paths.js';
import { unknownFact } from '../../services/common/facts-reference.js';
import { rulesCommand } from '../../cli/rules-commands.js';

/** A plain static-threshold CPU rule (cpu.avg > 85): the fixture these tests vary. */
const starter = JSON.parse(
  fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'rules', 'cpu-static.json'), 'utf8'),
);
const variant = (name: string, change: (r: any) => void = () => {}) => {
  const r = JSON.parse(JSON.stringify(starter));
  r.name = name;
  change(r);
  return JSON.stringify(r);
};

const OPERATORS =
  'equal, notEqual, in, notIn, contains, doesNotContain, lessThan, lessThanInclusive, greaterThan, greaterThanInclusive';

/** Runs `autoglm rules …` in-process; returns its exit code and the lines it printed. */
async function rules(...args: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await rulesCommand(args, {
    out: (t) => lines.push(...t.split('\n')),
    err: (t) => lines.push(...t.split('\n')),
  });
  return { code, lines };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rules-cli-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let folders = 0;
/** A new folder holding `files` (name → text). */
function folder(files: Record<string, string>): string {
  const dir = path.join(tmp, `f${folders++}`);
  fs.mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

describe('the facts reference', () => {
  it('knows window features and context facts, and suggests the nearest name for a typo', () => {
    for (const ok of [
      'cpu.avg',
      'latency.p95',
      'restarts.count',
      'entity',
      'events',
      'eventKinds',
      'maintenance',
      'tier',
      'incident',
    ])
      assert.equal(unknownFact(ok), undefined, ok);
    assert.match(unknownFact('cpu.avgg') ?? '', /did you mean "cpu\.avg"\?/);
    assert.match(unknownFact('maintenence') ?? '', /did you mean "maintenance"\?/);
    assert.match(unknownFact('CPU') ?? '', /unknown fact "CPU"/);
  });
});

describe('autoglm rules check', () => {
  it('passes the starter pack and its context files', async () => {
    const { code, lines } = await rules('check', path.join(repoRoot, 'rules'));
    const count = fs
      .readdirSync(path.join(repoRoot, 'rules'))
      .filter((f) => f.endsWith('.json') && !f.endsWith('.test.json') && f !== 'rule.schema.json').length;
    assert.equal(code, 0, lines.join('\n'));
    assert.deepEqual(lines.filter(Boolean), [`✔ ${count} rule(s) in ${count} file(s): no problems`]);
  });

  const broken: Array<[string, string, string]> = [
    [
      'invalid JSON',
      '{"name": ',
      'x.json: not valid JSON: Unexpected end of JSON input; fix the syntax: a rule file is one JSON object with name, conditions and event (see rules/README.md)',
    ],
    [
      'an unknown operator in conditions',
      variant('x', (r) => (r.conditions.all[0].operator = 'greaterThen')),
      `x.json: conditions.all[0].operator: unknown operator "greaterThen"; use one of ${OPERATORS}`,
    ],
    [
      'an unknown operator in verify',
      variant('x', (r) => (r.event.params.verify.conditions.all[0].operator = 'lessThen')),
      `x.json: event.params.verify.conditions.all[0].operator: unknown operator "lessThen"; use one of ${OPERATORS}`,
    ],
    [
      'an unknown fact',
      variant('x', (r) => (r.conditions.all[0].fact = 'cpu.avgg')),
      'x.json: conditions.all[0].fact: unknown fact "cpu.avgg": facts are <metric>.<avg|min|max|last|p95|count|slope|baseline|deviation|anomaly|spread|drift> or ' +
        'entity, events, eventKinds, deploy.ageSeconds, alerts, alerts.firing, alerts.names, alerts.severities, maintenance, maintenanceWindow, service, owner, tier, labels, dependencies, incident, incident.class, incident.confidence; did you mean "cpu.avg"?',
    ],
    [
      'a missing action',
      variant('x', (r) => delete r.event.params.action),
      'x.json: event.params.action: is missing: name the action, for example "scale_out"',
    ],
    [
      'a bad duration',
      variant('x', (r) => (r.event.params.cooldown = 'ten minutes')),
      'x.json: event.params.cooldown: must be a duration such as "10m"',
    ],
    [
      'a URL outside the allowlist',
      variant(
        'x',
        (r) => (r.event.params.actuator = { type: 'http', url: 'http://169.254.169.254/latest/meta-data' }),
      ),
      'x.json: event.params.actuator: refused URL http://169.254.169.254/latest/meta-data: origin http://169.254.169.254 ' +
        'is not in AUTOGLM_HTTP_ALLOWED_ORIGINS (allowed: http://127.0.0.1:8090)',
    ],
  ];
  for (const [what, text, message] of broken) {
    it(`refuses ${what} with the file, the JSON path and the fix`, async () => {
      const { code, lines } = await rules('check', folder({ 'x.json': text }));
      assert.equal(code, 1);
      assert.deepEqual(lines.filter(Boolean), [`✖ ${message}`, '1 problem(s) in 1 file(s)']);
    });
  }

  it('refuses a duplicate name', async () => {
    const { code, lines } = await rules(
      'check',
      folder({ 'a.json': variant('dup'), 'b.json': variant('dup', (r) => (r.priority = 50)) }),
    );
    assert.equal(code, 1);
    assert.equal(lines[0], '✖ b.json: name: "dup" is already used by a.json');
  });

  it('refuses an enforced rule that a rule of higher priority always shadows, but not a shadow-mode trial', async () => {
    const narrow = variant('narrow', (r) => {
      r.priority = 5;
      r.conditions.all[0].value = 95; // cpu.avg > 95 implies the starter's cpu.avg > 85
    });
    const dir = folder({ 'broad.json': variant('broad'), 'narrow.json': narrow });
    const { code, lines } = await rules('check', dir);
    assert.equal(code, 1);
    assert.deepEqual(lines.filter(Boolean), [
      '✖ narrow.json: conditions: shadowed by "broad" (broad.json, priority 10 ≥ 5): whenever this rule matches, "broad" matches too ' +
        'and takes the entity\'s lease first, so this rule never acts; give it a priority above 10, narrow "broad", or set its mode to "shadow"',
      '1 problem(s) in 2 file(s)',
    ]);
    const trial = variant('narrow', (r) => {
      r.priority = 5;
      r.conditions.all[0].value = 95;
      r.event.params.mode = 'shadow';
    });
    assert.equal(
      (await rules('check', folder({ 'broad.json': variant('broad'), 'narrow.json': trial }))).code,
      0,
    );
    const wider = variant('wider', (r) => {
      r.priority = 5;
      r.conditions.all[0].value = 80; // cpu.avg > 80 does not imply > 85
    });
    assert.equal(
      (await rules('check', folder({ 'broad.json': variant('broad'), 'wider.json': wider }))).code,
      0,
    );
  });

  it('checks the context files beside the rules', async () => {
    const dir = folder({ 'x.json': variant('x') });
    fs.mkdirSync(path.join(dir, 'context'));
    fs.writeFileSync(
      path.join(dir, 'context', 'catalog.json'),
      '{"services": {"web": {"owner": "team", "tier": 9}}}',
    );
    const { code, lines } = await rules('check', dir);
    assert.equal(code, 1);
    assert.match(lines[0] ?? '', /^✖ catalog\.json: services\.web\.tier: /);
  });

  it('says when a path does not exist, and exits 1 through the real binary', async () => {
    const missing = path.join(tmp, 'nope.json');
    const { code, lines } = await rules('check', missing);
    assert.equal(code, 1);
    assert.equal(lines[0], `✖ ${missing}: no such file or folder`);
    const viaBinary = await new Promise<number>((resolve) =>
      execFile(
        process.execPath,
        [path.join(repoRoot, 'bin/autoglm.js'), 'rules', 'check', missing],
        { cwd: repoRoot },
        (err) => resolve(err ? Number(err.code ?? 1) : 0),
      ),
    );
    assert.equal(viaBinary, 1);
  });

  it('answers an unknown option with the option and the usage, exit 2, no stack trace', async () => {
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [path.join(repoRoot, 'bin/autoglm.js'), 'approve', 'some-id', '--bogus'],
        { cwd: repoRoot },
        (err, _stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }),
      ),
    );
    assert.equal(code, 2);
    assert.match(stderr, /^autoglm: Unknown option '--bogus'/);
    assert.match(stderr, /usage: autoglm <command>/);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  });
});

describe('autoglm rules test', () => {
  const cases = (list: unknown[]) => JSON.stringify({ cases: list });
  const hot = {
    name: 'hot cpu scales out',
    facts: { 'cpu.avg': 92, 'cpu.count': 6 },
    expect: [{ rule: 'cpu', action: 'scale_out', args: { by: 1 } }],
  };

  it("runs the starter pack's own tests", async () => {
    const { code, lines } = await rules('test', path.join(repoRoot, 'rules'));
    assert.equal(code, 0, lines.join('\n'));
    assert.match(lines.at(-1) ?? '', /^\d+ passed, 0 failed \(\d+ file\(s\), rule set [0-9a-f]{12}\)$/);
  });

  it('passes matching cases and shows the condition that differed in a failing one', async () => {
    const dir = folder({
      'cpu.json': variant('cpu'),
      'cpu.test.json': cases([
        hot,
        { name: 'calm cpu does nothing', facts: { 'cpu.avg': 40, 'cpu.count': 6 }, expect: [] },
        { name: 'wrongly expects a decision', facts: { 'cpu.avg': 80, 'cpu.count': 6 }, expect: ['cpu'] },
        { name: 'wrongly expects none', facts: { 'cpu.avg': 99, 'cpu.count': 6 }, expect: [] },
        {
          name: 'wrong args',
          facts: { 'cpu.avg': 99, 'cpu.count': 6 },
          expect: [{ rule: 'cpu', args: { by: 2 } }],
        },
        {
          name: 'maintenance holds it',
          facts: { 'cpu.avg': 99, 'cpu.count': 6 },
          context: { maintenance: true },
          expect: [],
        },
      ]),
    });
    const { code, lines } = await rules('test', dir);
    assert.equal(code, 1);
    assert.deepEqual(lines.slice(0, -1), [
      '✔ cpu.test.json › hot cpu scales out',
      '✔ cpu.test.json › calm cpu does nothing',
      '✖ cpu.test.json › wrongly expects a decision',
      '    expected a decision of "cpu", got none; its conditions:',
      '      ✖ conditions.all[0]: cpu.avg = 80; greaterThan 85',
      '      ✔ conditions.all[1]: cpu.count = 6; greaterThanInclusive 3',
      '      ✔ conditions.all[2]: maintenance = false; equal false',
      '✖ cpu.test.json › wrongly expects none',
      '    unexpected decision of "cpu" (scale_out); its conditions:',
      '      ✔ conditions.all[0]: cpu.avg = 99; greaterThan 85',
      '      ✔ conditions.all[1]: cpu.count = 6; greaterThanInclusive 3',
      '      ✔ conditions.all[2]: maintenance = false; equal false',
      '✖ cpu.test.json › wrong args',
      '    "cpu": args.by is 1, expected 2',
      '✔ cpu.test.json › maintenance holds it',
    ]);
    assert.match(lines.at(-1) ?? '', /^3 passed, 3 failed \(1 file\(s\), rule set [0-9a-f]{12}\)$/);
  });

  it('refuses a malformed test file and a folder without tests', async () => {
    const bad = await rules(
      'test',
      folder({ 'cpu.json': variant('cpu'), 'cpu.test.json': cases([{ facts: {}, expect: [] }]) }),
    );
    assert.equal(bad.code, 1);
    assert.equal(
      bad.lines[0],
      '✖ cpu.test.json: cases.0.name: Invalid input: expected string, received undefined',
    );
    const none = await rules('test', folder({ 'cpu.json': variant('cpu') }));
    assert.equal(none.code, 1);
    assert.match(
      none.lines[0] ?? '',
      /^✖ no rule tests in .*: add <rule>\.test\.json files beside the rules/,
    );
  });

  it('refuses to test rules that do not pass the check', async () => {
    const { code, lines } = await rules(
      'test',
      folder({
        'x.json': variant('x', (r) => (r.conditions.all[0].fact = 'cpu.avgg')),
        'x.test.json': cases([hot]),
      }),
    );
    assert.equal(code, 1);
    assert.match(lines[0] ?? '', /^✖ x\.json: conditions\.all\[0\]\.fact: unknown fact "cpu\.avgg"/);
    assert.match(
      lines[1] ?? '',
      /^the rules in .* are refused \(1 problem\(s\)\); run: autoglm rules check /,
    );
  });
});

describe('autoglm rules explain', () => {
  const end = Date.parse('2026-01-05T12:00:00Z');
  const observation = (features: Record<string, number>) =>
    JSON.stringify({
      entity: 'web/pod-1',
      seq: 1,
      window: { start: end - 30_000, end },
      features,
      events: [],
      ts: end,
    });

  it('shows every rule, each condition with its value, and what would hold a match back', async () => {
    const dir = folder({
      'cpu.json': variant('cpu'),
      'mem.json': variant('mem', (r) => {
        r.priority = 20;
        r.conditions.all[0].fact = 'mem.avg';
      }),
    });
    const file = path.join(dir, 'obs.txt');
    fs.writeFileSync(file, observation({ 'cpu.avg': 92, 'cpu.count': 6 }));
    const { code, lines } = await rules('explain', file, '--rules', dir);
    assert.equal(code, 0, lines.join('\n'));
    assert.match(
      lines[0] ?? '',
      /^observation of web\/pod-1, window 2026-01-05T11:59:30\.000Z – 2026-01-05T12:00:00\.000Z; rule set [0-9a-f]{12}$/,
    );
    assert.deepEqual(lines.slice(1), [
      'context: service (not in the catalog), tier -, owner -, maintenance no',
      '',
      '✖ mem (priority 20, enforce) does not match',
      '    ✖ conditions.all[0]: mem.avg = (not reported); greaterThan 85',
      '    ✔ conditions.all[1]: cpu.count = 6; greaterThanInclusive 3',
      '    ✔ conditions.all[2]: maintenance = false; equal false',
      '',
      '✔ cpu (priority 10, enforce) matches → scale_out {"entity":"web/pod-1","by":1,"observedCpu":92}',
      '    ✔ conditions.all[0]: cpu.avg = 92; greaterThan 85',
      '    ✔ conditions.all[1]: cpu.count = 6; greaterThanInclusive 3',
      '    ✔ conditions.all[2]: maintenance = false; equal false',
      '  lane 3 (no priority in the rule: lane 3), fairness key entity:web/pod-1',
      '  held back when: another remediation of web/pod-1 is in flight (entity guard), or one by this rule ended less than 10m ago (cooldown); add --live to ask Temporal for the guard now',
    ]);
  });

  it('names the field of a bad observation', async () => {
    const dir = folder({ 'cpu.json': variant('cpu') });
    const file = path.join(dir, 'obs.txt');
    fs.writeFileSync(
      file,
      JSON.stringify({ entity: 'web/pod-1', seq: 1, features: {}, events: [], ts: end }),
    );
    const { code, lines } = await rules('explain', file, '--rules', dir);
    assert.equal(code, 1);
    assert.equal(lines[0], `✖ ${file}: window: Invalid input: expected object, received undefined`);
  });
});

describe('rules with episodes (for, keepFiringFor)', () => {
  const episodic = (change: (r: any) => void = () => {}) =>
    variant('cpu', (r) => {
      r.event.params.for = '1m';
      r.event.params.keepFiringFor = '10m';
      change(r);
    });

  it('rules check refuses a bad or too long for/keepFiringFor, naming the field', async () => {
    const dir = folder({
      'x.json': variant('x', (r) => (r.event.params.for = 'a minute')),
      'y.json': variant('y', (r) => (r.event.params.keepFiringFor = '2d')),
    });
    const { code, lines } = await rules('check', dir);
    assert.equal(code, 1);
    assert.deepEqual(lines.filter(Boolean), [
      '✖ x.json: event.params.for: must be a duration such as "1m" or "10m"',
      '✖ y.json: event.params.keepFiringFor: must be at most 24h',
      '2 problem(s) in 2 file(s)',
    ]);
  });

  it('rules test: a case holds its facts long enough by default; `held` shorter than `for` is pending', async () => {
    const hot = { 'cpu.avg': 92, 'cpu.count': 6 };
    const dir = folder({
      'cpu.json': episodic(),
      'cpu.test.json': JSON.stringify({
        cases: [
          { name: 'steady hot decides', facts: hot, expect: ['cpu'] },
          { name: 'hot for 1m decides', facts: hot, held: '1m', expect: ['cpu'] },
          { name: 'hot for 30s is pending', facts: hot, held: '30s', expect: [] },
          { name: 'wrongly expects a decision after 30s', facts: hot, held: '30s', expect: ['cpu'] },
        ],
      }),
    });
    const { code, lines } = await rules('test', dir);
    assert.equal(code, 1);
    assert.deepEqual(lines.slice(0, -1), [
      '✔ cpu.test.json › steady hot decides',
      '✔ cpu.test.json › hot for 1m decides',
      '✔ cpu.test.json › hot for 30s is pending',
      '✖ cpu.test.json › wrongly expects a decision after 30s',
      '    expected a decision of "cpu", got none; pending: its conditions hold, but for 30s of its `for` 1m',
    ]);
  });

  it('rules explain says a match is pending and what the episode settings mean', async () => {
    const end = Date.parse('2026-01-05T12:00:00Z');
    const dir = folder({ 'cpu.json': episodic() });
    const file = path.join(dir, 'obs.txt');
    fs.writeFileSync(
      file,
      JSON.stringify({
        entity: 'web/pod-1',
        seq: 1,
        window: { start: end - 30_000, end },
        features: { 'cpu.avg': 92, 'cpu.count': 6 },
        events: [],
        ts: end,
      }),
    );
    const { code, lines } = await rules('explain', file, '--rules', dir);
    assert.equal(code, 0, lines.join('\n'));
    assert.deepEqual(lines.slice(3, 8), [
      '✔ cpu (priority 10, enforce) matches, pending: this one observation has not held for its `for` 1m',
      '    ✔ conditions.all[0]: cpu.avg = 92; greaterThan 85',
      '    ✔ conditions.all[1]: cpu.count = 6; greaterThanInclusive 3',
      '    ✔ conditions.all[2]: maintenance = false; equal false',
      '  one decision per episode: it decides once its conditions have held for 1m, observation after observation; the episode ends after 10m without a match (matches before that are the same episode)',
    ]);
  });
});
