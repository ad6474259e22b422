import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../../infra/paths.js';
import { actuatorsFromConfig } from '../../services/actuators/from-config.js';
import { loadConfig } from '../../services/common/config.js';
import { loadRuleDir, parseRuleFile, RuleLoadError } from '../../services/decide/rule-file.js';

const starter = JSON.parse(
  fs.readFileSync(path.join(repoRoot, 'rules', 'cpu-saturation-scale-out.json'), 'utf8'),
) as Record<string, any>;
const withChange = (change: (r: Record<string, any>) => void) => {
  const copy = structuredClone(starter);
  change(copy);
  return JSON.stringify(copy);
};

describe('rule files', () => {
  it('loads the starter rules folder, versioned by content', () => {
    const rules = loadRuleDir(path.join(repoRoot, 'rules'));
    assert.ok(rules.length >= 1);
    const rule = rules.find((r) => r.name === 'cpu-saturation-scale-out');
    assert.ok(rule);
    assert.match(rule.version, /^[0-9a-f]{12}$/);
    assert.equal(rule.params.action, 'scale_out');
    assert.equal(rule.params.verify.within, '5m');
  });

  it('fills defaults the author left out', () => {
    const r = parseRuleFile(
      'x.json',
      withChange((r) => {
        delete r.event.params.mode;
        delete r.event.params.cooldown;
      }),
    );
    assert.ok('rule' in r);
    assert.equal(r.rule.params.mode, 'enforce');
    assert.equal(r.rule.params.cooldown, '10m');
  });

  it('names the file, the field and the fix for each problem', () => {
    const r = parseRuleFile(
      'bad.json',
      withChange((r) => {
        r.event.params.cooldown = 'ten minutes';
        r.event.params.action = 'Scale Out';
        delete r.event.params.verify;
      }),
    );
    assert.ok('problems' in r);
    const text = r.problems.join('\n');
    assert.match(text, /bad\.json: event\.params\.cooldown: must be a duration/);
    assert.match(text, /bad\.json: event\.params\.action: use snake_case/);
    assert.match(text, /bad\.json: event\.params\.verify/);
  });

  it('refuses a misspelt key instead of ignoring it', () => {
    const r = parseRuleFile(
      'typo.json',
      withChange((r) => {
        r.event.params.cooldwon = '5m';
      }),
    );
    assert.ok('problems' in r);
    assert.match(r.problems.join('\n'), /cooldwon/);
  });

  it('refuses conditions json-rules-engine would not run, and broken JSON', () => {
    const noTop = parseRuleFile(
      'c.json',
      withChange((r) => {
        r.conditions = { every: [] };
      }),
    );
    assert.ok('problems' in noTop);
    assert.match(
      noTop.problems.join('\n'),
      /conditions: must have a top-level "all", "any", "not" or "condition"/,
    );
    const broken = parseRuleFile('j.json', '{"name": ');
    assert.ok('problems' in broken);
    assert.match(broken.problems[0] ?? '', /j\.json: not valid JSON/);
  });

  it('refuses a folder with duplicate names, listing every problem', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rules-'));
    fs.writeFileSync(path.join(dir, 'a.json'), JSON.stringify(starter));
    fs.writeFileSync(path.join(dir, 'b.json'), JSON.stringify(starter));
    fs.writeFileSync(path.join(dir, 'c.json'), '[]');
    assert.throws(
      () => loadRuleDir(dir),
      (err: unknown) => {
        assert.ok(err instanceof RuleLoadError);
        assert.equal(err.problems.length, 2);
        assert.match(
          err.problems.join('\n'),
          /b\.json: name: "cpu-saturation-scale-out" is already used by a\.json/,
        );
        return true;
      },
    );
  });
});

describe('rule limits', () => {
  it('accepts approval "required" and refuses an unknown approval mode', () => {
    const ok = parseRuleFile(
      'a.json',
      withChange((r) => {
        r.event.params.approval = 'required';
      }),
    );
    assert.ok('rule' in ok, JSON.stringify(ok));
    assert.equal(ok.rule.params.approval, 'required');
    const bad = parseRuleFile(
      'a.json',
      withChange((r) => {
        r.event.params.approval = 'maybe';
      }),
    );
    assert.ok('problems' in bad);
    assert.match(bad.problems.join('\n'), /event\.params\.approval/);
  });

  it('refuses a verify deadline over 1h', () => {
    const r = parseRuleFile(
      'w.json',
      withChange((r) => {
        r.event.params.verify.within = '2h';
      }),
    );
    assert.ok('problems' in r);
    assert.match(r.problems.join('\n'), /event\.params\.verify\.within: must be at most 1h/);
  });
});

describe('actuators checked at load', () => {
  it('refuses rules whose URL is outside the allowlist or whose command is not in the command folder', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rules-'));
    try {
      const rule = (name: string, actuator: unknown) => ({
        ...JSON.parse(JSON.stringify(starter)),
        name,
        event: { ...starter.event, params: { ...starter.event.params, actuator } },
      });
      fs.writeFileSync(path.join(dir, 'ok.json'), JSON.stringify(rule('ok', { type: 'http' })));
      fs.writeFileSync(
        path.join(dir, 'meta.json'),
        JSON.stringify(rule('meta', { type: 'http', url: 'http://169.254.169.254/latest/meta-data/' })),
      );
      fs.writeFileSync(
        path.join(dir, 'cmd.json'),
        JSON.stringify(rule('cmd', { type: 'command', command: 'scale.sh' })),
      );
      const actuators = actuatorsFromConfig(loadConfig({}));
      assert.throws(
        () => loadRuleDir(dir, { checkActuator: (ref) => actuators.check(ref) }),
        (err: unknown) => {
          assert.ok(err instanceof RuleLoadError);
          assert.equal(err.problems.length, 2, err.message);
          assert.match(
            err.message,
            /meta\.json: event\.params\.actuator: refused URL .* not in AUTOGLM_HTTP_ALLOWED_ORIGINS/,
          );
          assert.match(err.message, /cmd\.json: event\.params\.actuator: .*AUTOGLM_COMMAND_DIR/);
          return true;
        },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
