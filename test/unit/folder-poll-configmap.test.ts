import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { repoRoot } from '../../infra/paths.js';
import { createLogger } from '../../services/common/logger.js';
import { Decider } from '../../services/decide/decider.js';
import { RuleReloader } from '../../services/decide/rule-reload.js';
import { loadRuleSet } from '../../services/decide/rule-set.js';

/**
 * Writes `payload` (relative path → text) into `dir` the way kubelet's atomic writer updates a
 * ConfigMap volume: the files go into a new hidden `..<timestamp>` folder, a `..data_tmp` symlink to
 * it is renamed over `..data` (the one atomic step), each top-level name is a symlink into `..data`
 * (`context` → `..data/context` for a nested key), names gone from the payload are unlinked, and the
 * previous timestamped folder is removed. `mtime` sets every new file's time (a tool that keeps
 * times, or two updates within the file system clock's tick).
 */
function kubeletWrite(dir: string, payload: Record<string, string>, mtime?: Date): void {
  fs.mkdirSync(dir, { recursive: true });
  const dataLink = path.join(dir, '..data');
  const previous = fs.existsSync(dataLink) ? fs.readlinkSync(dataLink) : undefined;
  const stamp = `..${new Date().toISOString().replace(/[-:T.Z]/g, '_')}${process.hrtime.bigint()}`;
  for (const [rel, text] of Object.entries(payload)) {
    const file = path.join(dir, stamp, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    if (mtime) fs.utimesSync(file, mtime, mtime);
  }
  fs.symlinkSync(stamp, path.join(dir, '..data_tmp'));
  fs.renameSync(path.join(dir, '..data_tmp'), dataLink);
  const top = new Set(Object.keys(payload).map((rel) => rel.split('/')[0]!));
  for (const name of top) {
    const link = path.join(dir, name);
    if (!fs.existsSync(link)) fs.symlinkSync(path.join('..data', name), link);
  }
  for (const name of fs.readdirSync(dir)) {
    if (!name.startsWith('..') && !top.has(name)) fs.unlinkSync(path.join(dir, name));
  }
  if (previous) fs.rmSync(path.join(dir, previous), { recursive: true });
}

const starter = fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'rules', 'cpu-static.json'), 'utf8');
const T0 = Date.parse('2026-01-05T12:00:00Z');
const observation = (cpu: number) => ({
  entity: 'web-1',
  seq: 0,
  window: { start: T0 - 30_000, end: T0 },
  features: { 'cpu.avg': cpu, 'cpu.count': 6 },
  events: [],
  ts: T0,
});
/** A maintenance window over web-1 or over another entity: the same length, so only the content differs. */
const maintenance = (entity: 'web-1' | 'web-9') =>
  JSON.stringify({
    windows: [
      {
        name: 'rack-move',
        entities: [entity],
        once: { start: '2026-01-05T11:00:00Z', end: '2026-01-05T13:00:00Z' },
        reason: 'moving the rack',
      },
    ],
  });
/** The same moment for every file: the worst case for a fingerprint of sizes and times. */
const SAME_TIME = new Date('2026-01-01T00:00:00Z');

describe('decide hot reload on a ConfigMap volume (kubelet ..data symlink swaps)', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'configmap-'));
  after(() => fs.rmSync(base, { recursive: true, force: true }));

  async function setUp(name: string) {
    const dir = path.join(base, name);
    kubeletWrite(dir, { 'cpu.json': starter, 'context/maintenance.json': maintenance('web-9') }, SAME_TIME);
    const load = () => loadRuleSet(dir);
    const first = await load();
    assert.ok(first.ruleSet, first.problems.join('\n'));
    const decider = new Decider(first.ruleSet);
    const registry = new Registry();
    const reloader = new RuleReloader({
      dir,
      decider,
      load,
      intervalMs: 0,
      logger: createLogger('silent'),
      registry,
    });
    const applied = async () =>
      (await registry.getSingleMetric('autoglm_decide_rule_reloads_total')?.get())?.values.find(
        (v) => v.labels.result === 'applied',
      )?.value ?? 0;
    const decides = async (cpu: number) =>
      (await decider.decide(observation(cpu), T0)).decisions.map((d) => d.rule);
    return { dir, decider, reloader, applied, decides, first: first.ruleSet };
  }

  it('takes a changed rule whose file has the same size and time as before', async () => {
    const { dir, reloader, applied, decides } = await setUp('rule');
    assert.deepEqual(await decides(90), ['cpu-saturation-scale-out'], 'threshold 85 at first');
    await reloader.check();
    assert.equal(await applied(), 0, 'no swap, no reload');

    const raised = starter.replace('"value": 85', '"value": 95');
    assert.equal(raised.length, starter.length, 'the fixture must still say "value": 85');
    kubeletWrite(dir, { 'cpu.json': raised, 'context/maintenance.json': maintenance('web-9') }, SAME_TIME);
    await reloader.check();
    assert.equal(await applied(), 1, 'the swap is seen');
    assert.deepEqual(await decides(90), [], 'threshold 95 now');
    assert.deepEqual(await decides(96), ['cpu-saturation-scale-out']);
  });

  it('takes a changed context file (context/ is a symlink into ..data) of the same size and time', async () => {
    const { dir, reloader, applied, decides, decider, first } = await setUp('context');
    assert.deepEqual(await decides(90), ['cpu-saturation-scale-out']);
    kubeletWrite(dir, { 'cpu.json': starter, 'context/maintenance.json': maintenance('web-1') }, SAME_TIME);
    await reloader.check();
    assert.equal(await applied(), 1);
    assert.notEqual(decider.ruleSet.hash, first.hash);
    assert.deepEqual(await decides(90), [], 'web-1 is in maintenance now');
  });

  it('takes a swap with fresh times (kubelet writes new files) and a key removed from the ConfigMap', async () => {
    const { dir, reloader, applied, decider } = await setUp('fresh');
    const second = JSON.parse(starter);
    second.name = 'mem-saturation';
    second.conditions.all[0].fact = 'mem.avg';
    kubeletWrite(dir, {
      'cpu.json': starter,
      'mem.json': JSON.stringify(second),
      'context/maintenance.json': maintenance('web-9'),
    });
    await reloader.check();
    assert.equal(await applied(), 1);
    assert.deepEqual(
      decider.ruleSet.rules.map((r) => r.name),
      ['cpu-saturation-scale-out', 'mem-saturation'],
    );
    kubeletWrite(dir, { 'cpu.json': starter, 'context/maintenance.json': maintenance('web-9') });
    await reloader.check();
    assert.equal(await applied(), 2);
    assert.deepEqual(
      decider.ruleSet.rules.map((r) => r.name),
      ['cpu-saturation-scale-out'],
    );
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.startsWith('..') && f !== '..data'),
      [fs.readlinkSync(path.join(dir, '..data'))],
      'only the live timestamped folder is left, as kubelet leaves it',
    );
  });
});
