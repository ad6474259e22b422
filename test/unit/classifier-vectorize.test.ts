/**
 * The optimized vectorize() against the rule written plainly (regex words of the lower-cased
 * "kind message", FNV-1a 32-bit over UTF-8 bytes modulo buckets, log1p of the counts, the mean for a
 * missing or non-finite numeric feature): identical values, bit for bit, over generated inputs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { readModelJson } from '../../services/classifier/model-files.js';
import type { FeatureSpec, ModelInput } from '../../services/classifier/model-types.js';
import { generateScenarios, scenarioFeatureNames } from '../../services/classifier/scenarios.js';
import { seededRandom } from '../../services/classifier/seeded-random.js';
import { tokenBuckets, vectorize, vectorizeRows } from '../../services/classifier/vectorize.js';

/** The documented rule, written the plain way. */
function reference(
  input: ModelInput,
  features: readonly FeatureSpec[],
  mean: readonly number[] | undefined,
): number[] {
  const row: number[] = [];
  const numeric = features.filter((f) => f.kind === 'numeric');
  const read = (name: string) => {
    const value = Object.hasOwn(input.features, name) ? input.features[name] : undefined;
    return typeof value === 'number' && Number.isFinite(value) ? value : NaN;
  };
  numeric.forEach((f, i) => {
    // Derived inputs: slog(a) = sign(a)·ln(1+|a|); log_ratio(a,b) = ln((|a|+c)/(|b|+c)), c = 5% of the larger.
    const slog = /^slog\((.+)\)$/.exec(f.name);
    const ratio = /^log_ratio\((.+),(.+)\)$/.exec(f.name);
    let value: number;
    if (slog) value = Math.sign(read(slog[1]!)) * Math.log1p(Math.abs(read(slog[1]!)));
    else if (ratio) {
      const [a, b] = [Math.abs(read(ratio[1]!)), Math.abs(read(ratio[2]!))];
      const c = 0.05 * Math.max(a, b);
      value = c === 0 ? 0 : Math.log((a + c) / (b + c));
    } else value = read(f.name);
    row.push(Number.isFinite(value) ? value : (mean?.[i] ?? NaN));
  });
  for (const f of features) {
    if (f.kind !== 'event_tokens') continue;
    const counts = new Array<number>(f.buckets).fill(0);
    for (const event of input.events)
      for (const token of `${event.kind} ${event.message}`.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? []) {
        let hash = 0x811c9dc5;
        for (const byte of new TextEncoder().encode(token)) hash = Math.imul(hash ^ byte, 0x01000193);
        counts[(hash >>> 0) % f.buckets]! += 1;
      }
    row.push(...counts.map((c) => (c === 0 ? 0 : Math.log1p(c))));
  }
  return row;
}

/** Characters a random event text is drawn from: ASCII, and what lower-casing or UTF-8 make hard. */
const ALPHABET = [
  ...'abcXYZ019_ :-./()=\t\n\'"',
  ...'éÉßİıΣσςΑΩ', // two-byte UTF-8, a lower-case that grows (İ), final sigma
  '\u0301', // combining accent (not a word character)
  ...'٣७漢字ｶ', // digits and letters of other scripts, three bytes
  '😀',
  '𝐀', // four bytes (surrogate pairs), a math letter
  '\ud800',
  '\udc00', // lone surrogates
  '\u00a0',
  '\u2028',
];

function randomText(random: () => number, maxLength: number): string {
  const length = Math.floor(random() * maxLength);
  let text = '';
  for (let i = 0; i < length; i++) {
    // Mostly ASCII words, as real events are.
    text +=
      random() < 0.7
        ? String.fromCharCode(97 + Math.floor(random() * 26))
        : ALPHABET[Math.floor(random() * ALPHABET.length)]!;
  }
  return text;
}

function assertSame(
  actual: ArrayLike<number>,
  from: number,
  expected: readonly number[],
  float32: boolean,
  what: string,
): void {
  assert.ok(
    actual.length >= from + expected.length,
    `${what}: ${actual.length} values from ${from}, the plain rule gives ${expected.length}`,
  );
  for (let j = 0; j < expected.length; j++) {
    const want = float32 ? Math.fround(expected[j]!) : expected[j]!;
    if (!Object.is(actual[from + j], want))
      assert.fail(`${what}: column ${j} is ${actual[from + j]}, the plain rule gives ${want}`);
  }
}

/** vectorize() alone (fresh Float64Array, Float32Array at an offset) and vectorizeRows() in both types. */
function assertAllPaths(
  inputs: readonly ModelInput[],
  features: readonly FeatureSpec[],
  mean: readonly number[] | undefined,
): void {
  const expected = inputs.map((input) => reference(input, features, mean));
  // One column per numeric feature and per token bucket, counted from the specs, not the output.
  const width = features.reduce((n, f) => n + (f.kind === 'event_tokens' ? f.buckets : 1), 0);
  assert.ok(inputs.length > 0 && width > 0, 'rows and columns to compare');
  expected.forEach((row, i) => assert.equal(row.length, width, `row ${i}: the plain rule's width`));
  const single32 = new Float32Array(width + 3);
  inputs.forEach((input, i) => {
    const single = vectorize(input, features, mean);
    assert.equal(single.length, width, `row ${i}: vectorize() gives one value per column`);
    assertSame(single, 0, expected[i]!, false, `row ${i} (float64)`);
    vectorize(input, features, mean, single32, 3);
    assertSame(single32, 3, expected[i]!, true, `row ${i} (float32 at offset 3)`);
  });
  for (const rows of [new Float32Array(inputs.length * width), new Float64Array(inputs.length * width)]) {
    vectorizeRows(inputs, features, mean, rows);
    const float32 = rows instanceof Float32Array;
    inputs.forEach((_, i) =>
      assertSame(
        rows,
        i * width,
        expected[i]!,
        float32,
        `vectorizeRows row ${i} (${float32 ? 'float32' : 'float64'})`,
      ),
    );
  }
}

describe('vectorize against the plain rule', () => {
  it('gives the same vectors for scenario rows under the shipped model', () => {
    const model = readModelJson('models/incident');
    const rows = generateScenarios({ rows: 3000, seed: 11 });
    assertAllPaths(rows, model.features, model.mean);
    assertAllPaths(rows.slice(0, 300), model.features, undefined);
  });

  it('gives the same vectors for random unicode events, missing and non-finite features', () => {
    const random = seededRandom(5);
    const names = scenarioFeatureNames().slice(0, 12);
    const features: FeatureSpec[] = [
      ...names.map((name) => ({ kind: 'numeric' as const, name })),
      // Names Object.prototype has: never a feature of a row unless the row's own.
      { kind: 'numeric', name: 'toString' },
      { kind: 'numeric', name: '__proto__' },
      { kind: 'event_tokens', name: 'events', buckets: 64 },
      { kind: 'numeric', name: 'after.tokens' },
      { kind: 'event_tokens', name: 'coarse', buckets: 7 },
      { kind: 'event_tokens', name: 'one', buckets: 1 },
      { kind: 'event_tokens', name: 'wide', buckets: 1009 },
    ];
    const mean = features.map((_, i) => i + 0.25);
    const odd: unknown[] = [NaN, Infinity, -Infinity, -0, '5', null, undefined, 1e40, 3.3];
    const inputs: ModelInput[] = Array.from({ length: 4000 }, (_, r) => {
      const values: Record<string, unknown> = r % 5 === 0 ? Object.create(null) : {};
      for (const f of features)
        if (f.kind === 'numeric' && random() < 0.8)
          values[f.name] = random() < 0.2 ? odd[Math.floor(random() * odd.length)] : 100 * random() - 50;
      const events = Array.from({ length: Math.floor(random() * 4) }, () => ({
        kind:
          random() < 0.8
            ? ['k8s', 'log', 'alert', 'Deploy'][Math.floor(random() * 4)]!
            : randomText(random, 8),
        // Some texts repeat (the cache), some are long (not cached).
        message: random() < 0.3 ? `OOMKilled ${r % 7}` : randomText(random, random() < 0.05 ? 400 : 40),
      }));
      return { features: values as Record<string, number>, events };
    });
    assertAllPaths(inputs, features, mean);
    assertAllPaths(inputs.slice(0, 200), features, undefined);
    assertAllPaths([{ features: {}, events: [] }], features, mean);
    // More distinct texts than the cache keeps.
    assertAllPaths(
      Array.from({ length: 5000 }, (_, i) => ({
        features: {},
        events: [{ kind: 'log', message: `event ${i} ${randomText(random, 12)}` }],
      })),
      features,
      mean,
    );
  });

  it('reads inherited features as missing, even from a polluted Object.prototype', () => {
    const features: FeatureSpec[] = [
      { kind: 'numeric', name: 'cpu.avg' },
      { kind: 'numeric', name: 'mem.avg' },
    ];
    const inherited = Object.create({ 'cpu.avg': 5 }) as Record<string, number>;
    inherited['mem.avg'] = 2;
    const plain = { 'mem.avg': 3 };
    assertAllPaths(
      [
        { features: inherited, events: [] },
        { features: plain, events: [] },
      ],
      features,
      [7, 8],
    );
    const proto = Object.prototype as Record<string, unknown>;
    proto['cpu.avg'] = 9;
    try {
      assertAllPaths([{ features: plain, events: [] }], features, [7, 8]);
    } finally {
      delete proto['cpu.avg'];
    }
  });

  it('reads features whose names need quoting in the generated reader', () => {
    const names = [
      'a"b',
      "it's",
      'back\\slash',
      'line\nbreak',
      '\u2028',
      '${x}',
      '*/',
      '0',
      '1.5',
      '',
      'constructor',
    ];
    const features: FeatureSpec[] = [
      ...names.map((name) => ({ kind: 'numeric' as const, name })),
      { kind: 'event_tokens', name: 'events', buckets: 8 },
    ];
    const mean = features.map((_, i) => -i - 0.5);
    const random = seededRandom(9);
    const inputs: ModelInput[] = Array.from({ length: 300 }, (_, r) => {
      const values: Record<string, number> = r % 3 === 0 ? Object.create(null) : {};
      for (const name of names) if (random() < 0.7) values[name] = r % 7 === 0 ? Infinity : 10 * random();
      return { features: values, events: [{ kind: 'log', message: `row ${r % 5}` }] };
    });
    assertAllPaths(inputs, features, mean);
  });

  it('counts many tokens per bucket and writes into a used buffer', () => {
    const features: FeatureSpec[] = [
      { kind: 'numeric', name: 'cpu.avg' },
      { kind: 'event_tokens', name: 'events', buckets: 16 },
      { kind: 'event_tokens', name: 'one', buckets: 1 },
    ];
    const inputs: ModelInput[] = [40, 62, 63, 64, 65, 200, 0, 1].map((n, r) => ({
      features: { 'cpu.avg': r },
      events: [
        { kind: 'log', message: 'oom '.repeat(n) },
        { kind: 'log', message: 'x' },
      ],
    }));
    assertAllPaths(inputs, features, [1]);
    // Rows from an earlier, longer batch are still in the buffer: none of them may show through.
    const width = 18;
    const out = new Float32Array(20 * width).fill(7);
    vectorizeRows(inputs, features, [1], out);
    inputs.forEach((input, i) =>
      assertSame(out, i * width, reference(input, features, [1]), true, `reused buffer row ${i}`),
    );
    assert.ok(
      out.subarray(inputs.length * width).every((v) => v === 7),
      'rows past the batch untouched',
    );
  });

  it('leaves no count behind when an event cannot be text', () => {
    const features: FeatureSpec[] = [{ kind: 'event_tokens', name: 'events', buckets: 4 }];
    const bad = { kind: 'log', message: { toString: () => assert.fail('no text') } } as unknown as {
      kind: string;
      message: string;
    };
    const good: ModelInput = { features: {}, events: [{ kind: 'oom oom oom', message: 'killed' }] };
    const broken: ModelInput = { features: {}, events: [{ kind: 'oom', message: 'killed' }, bad] };
    assert.throws(() => vectorizeRows([good, broken], features, undefined, new Float64Array(8)), /no text/);
    assertAllPaths([good, good], features, undefined);
  });

  it('gives the same vectors where code generation is disallowed (the plain reader)', () => {
    const model = readModelJson('models/incident');
    const rows = generateScenarios({ rows: 300, seed: 12 }).map((r, i) => ({
      // Missing and non-number features too, as JSON can carry them.
      features: Object.fromEntries(
        Object.entries(r.features).map(([k, v], j) => [
          k,
          (i + j) % 11 === 0 ? 'x' : (i + j) % 13 === 0 ? null : v,
        ]),
      ),
      events: r.events,
    }));
    const script = [
      "import { readFileSync } from 'node:fs';",
      `import { vectorizeRows } from ${JSON.stringify(pathToFileURL(path.resolve('services/classifier/vectorize.ts')).href)};`,
      "let generated = true; try { new Function(''); } catch { generated = false; }",
      "const { rows, features, mean, width } = JSON.parse(readFileSync(0, 'utf8'));",
      'const out = new Float64Array(rows.length * width);',
      'vectorizeRows(rows, features, mean, out);',
      'process.stdout.write(JSON.stringify({ generated, out: Array.from(out) }));',
    ].join('\n');
    const width = model.columns.length;
    const child = spawnSync(
      process.execPath,
      ['--disallow-code-generation-from-strings', '--import', 'tsx', '--input-type=module', '-e', script],
      {
        input: JSON.stringify({ rows, features: model.features, mean: model.mean, width }),
        encoding: 'utf8',
      },
    );
    assert.equal(child.status, 0, child.stderr);
    const { generated, out } = JSON.parse(child.stdout) as { generated: boolean; out: number[] };
    assert.equal(generated, false, 'the child could generate code');
    rows.forEach((row, i) =>
      assertSame(out, i * width, reference(row as ModelInput, model.features, model.mean), false, `row ${i}`),
    );
  });

  it('hashes tokens as tokenize and hashToken do', () => {
    assert.deepEqual(tokenBuckets('', 64), []);
    assert.deepEqual(tokenBuckets('a', 2 ** 31), [0xe40c292c % 2 ** 31]);
    assert.deepEqual(tokenBuckets('A a  a!', 2 ** 31), [
      0xe40c292c % 2 ** 31,
      0xe40c292c % 2 ** 31,
      0xe40c292c % 2 ** 31,
    ]);
  });
});
