import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from '../../infra/paths.js';
import { unknownFact } from '../../services/common/facts-reference.js';

const starter = JSON.parse(
  fs.readFileSync(path.join(repoRoot, 'rules', 'cpu-saturation-scale-out.json'), 'utf8'),
);
const variant = (name: string, change: (r: any) => void) => {
  const r = JSON.parse(JSON.stringify(starter));
  r.name = name;
  change(r);
  return JSON.stringify(r);
};

/** Runs `autoglm rules check` on `paths` with a clean environment; returns its exit code and output. */
function check(...paths: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(repoRoot, 'bin/autoglm.js'), 'rules', 'check', ...paths],
      { cwd: repoRoot, env: { PATH: process.env.PATH, HOME: process.env.HOME } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

describe('the facts reference', () => {
  it('knows window features and context facts, and suggests the nearest name for a typo', () => {
    for (const ok of [
      'cpu.avg',
      'latency.p95',
      'restarts.count',
      'entity',
      'events',
      'maintenance',
      'incident',
    ])
      assert.equal(unknownFact(ok), undefined, ok);
    assert.match(unknownFact('cpu.avgg') ?? '', /did you mean "cpu\.avg"\?/);
    assert.match(unknownFact('maintenence') ?? '', /did you mean "maintenance"\?/);
    assert.match(unknownFact('CPU') ?? '', /unknown fact "CPU"/);
  });
});

describe('autoglm rules check', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rules-check-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };

  it('passes the starter rules', async () => {
    const { code, out } = await check(path.join(repoRoot, 'rules'));
    assert.equal(code, 0, out);
    assert.match(out, /✔ 1 rule\(s\) in 1 file\(s\): no problems/);
  });

  it('names the file, the JSON path and the fix of each broken rule, and exits 1', async () => {
    const files = [
      write('broken.json', '{"name": '),
      write(
        'op.json',
        variant('op', (r) => (r.conditions.all[0].operator = 'greaterThen')),
      ),
      write(
        'vop.json',
        variant('vop', (r) => (r.event.params.verify.conditions.all[0].operator = 'lessThen')),
      ),
      write(
        'fact.json',
        variant('fact', (r) => (r.conditions.all[0].fact = 'cpu.avgg')),
      ),
      write(
        'noaction.json',
        variant('noaction', (r) => delete r.event.params.action),
      ),
      write(
        'duration.json',
        variant('duration', (r) => (r.event.params.cooldown = 'ten minutes')),
      ),
      write(
        'dup1.json',
        variant('dup', () => {}),
      ),
      write(
        'dup2.json',
        variant('dup', () => {}),
      ),
      write(
        'url.json',
        variant(
          'url',
          (r) => (r.event.params.actuator = { type: 'http', url: 'http://169.254.169.254/latest/meta-data' }),
        ),
      ),
    ];
    const { code, out } = await check(...files);
    assert.equal(code, 1, out);
    const expected = [
      /✖ broken\.json: not valid JSON: /,
      /✖ op\.json: conditions\.all\[0\]\.operator: unknown operator "greaterThen"; use one of equal, notEqual, .*greaterThanInclusive/,
      /✖ vop\.json: event\.params\.verify\.conditions\.all\[0\]\.operator: unknown operator "lessThen"; use one of /,
      /✖ fact\.json: conditions\.all\[0\]\.fact: unknown fact "cpu\.avgg": .* did you mean "cpu\.avg"\?/,
      /✖ noaction\.json: event\.params\.action: /,
      /✖ duration\.json: event\.params\.cooldown: must be a duration such as "10m"/,
      /✖ dup2\.json: name: "dup" is already used by dup1\.json/,
      /✖ url\.json: event\.params\.actuator: refused URL http:\/\/169\.254\.169\.254\/latest\/meta-data: origin http:\/\/169\.254\.169\.254 is not in AUTOGLM_HTTP_ALLOWED_ORIGINS/,
    ];
    for (const line of expected) assert.match(out, line);
    assert.match(out, /8 problem\(s\) in 9 file\(s\)/);
  });

  it('says when a path does not exist', async () => {
    const { code, out } = await check(path.join(dir, 'nope.json'));
    assert.equal(code, 1);
    assert.match(out, /nope\.json: no such file or folder/);
  });
});
