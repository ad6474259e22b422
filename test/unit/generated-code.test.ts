import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { generated } from '../../services/common/generated-code.js';
import type { MetricSample } from '../../services/common/contracts.js';
import { EntityWindows } from '../../services/sense/windows.js';

const T0 = 1_800_000_000_000;
const SAMPLES: MetricSample[] = Array.from({ length: 60 }, (_, i) => ({
  entity: `e${i % 3}`,
  metric: i % 2 ? 'cpu' : 'mem',
  value: (i * 37) % 101,
  ts: T0 + i * 400,
}));
/** The observations of SAMPLES, and whether each was shown by view() before build(). */
const OBSERVE = `(EntityWindows, samples) => {
  const w = new EntityWindows({ windowMs: 5000, emitEveryMs: 1000, maxMetricsPerEntity: 4, maxEntities: 4 });
  const out = [];
  for (const s of samples) if (w.addSampleUnbuilt(s).kind === 'unbuilt') out.push({ viewed: w.view() !== undefined, obs: w.build() });
  return out;
}`;

describe('generated code', () => {
  it('compiles a body in strict mode, called once with its arguments; a body that does not parse throws', () => {
    const add = generated<(x: number) => number>(['k'], 'return function (x) { return x + k; };', 2);
    assert.equal(add?.(3), 5);
    assert.equal(generated<unknown>([], 'return (function () { return this; })();'), undefined);
    assert.throws(() => generated([], 'return {;'), SyntaxError);
  });

  it('is undefined where code generation is disallowed, and the windows then build the same observations one feature at a time', () => {
    type Observed = { viewed: boolean; obs: unknown }[];
    const observe = new Function(`return ${OBSERVE};`)() as (
      w: typeof EntityWindows,
      s: MetricSample[],
    ) => Observed;
    const here = observe(EntityWindows, SAMPLES);
    assert.ok(here.length > 20 && here.every((o) => o.viewed), 'shown in place here');
    const script = [
      `import { generated } from ${JSON.stringify(pathToFileURL(path.resolve('services/common/generated-code.ts')).href)};`,
      `import { EntityWindows } from ${JSON.stringify(pathToFileURL(path.resolve('services/sense/windows.ts')).href)};`,
      "import { readFileSync } from 'node:fs';",
      `const observe = ${OBSERVE};`,
      "const made = generated([], 'return 1;');",
      "process.stdout.write(JSON.stringify({ made: made ?? null, out: observe(EntityWindows, JSON.parse(readFileSync(0, 'utf8'))) }));",
    ].join('\n');
    const child = spawnSync(
      process.execPath,
      ['--disallow-code-generation-from-strings', '--import', 'tsx', '--input-type=module', '-e', script],
      { input: JSON.stringify(SAMPLES), encoding: 'utf8' },
    );
    assert.equal(child.status, 0, child.stderr);
    const { made, out } = JSON.parse(child.stdout) as {
      made: unknown;
      out: { viewed: boolean; obs: unknown }[];
    };
    assert.equal(made, null);
    assert.ok(
      out.every((o) => !o.viewed),
      'no view without generated code',
    );
    assert.deepEqual(
      out.map((o) => o.obs),
      JSON.parse(JSON.stringify(here.map((o) => o.obs))),
    );
  });
});
