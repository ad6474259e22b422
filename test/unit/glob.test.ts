/** Entity patterns: the regular expressions' meaning, without their backtracking. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileGlob } from '../../services/common/glob.js';
import { parseCatalog } from '../../services/common/context/catalog.js';

/** The backtracking form the matcher replaced: the oracle for what a pattern means. */
function oracle(pattern: string): RegExp {
  const body = pattern
    .split('**')
    .map((part) => part.replaceAll('.', '\\.').replaceAll('*', '[^/]*'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

/** Milliseconds one call takes. */
function timed(fn: () => unknown): number {
  const started = performance.now();
  fn();
  return performance.now() - started;
}

describe('compileGlob', () => {
  it('means what the patterns meant: * any run but /, ** any run, the rest itself', () => {
    const cases: Array<[string, string, boolean]> = [
      ['checkout/*', 'checkout/pod-1', true],
      ['checkout/*', 'checkout/', true],
      ['checkout/*', 'checkout/a/b', false],
      ['checkout/**', 'checkout/a/b', true],
      ['checkout', 'checkout', true],
      ['checkout', 'checkout2', false],
      ['checkout', 'xcheckout', false],
      ['*.db', 'orders.db', true],
      ['*.db', 'ordersxdb', false],
      ['**-db', 'eu/orders-db', true],
      ['*-db', 'eu/orders-db', false],
      ['a*b*c', 'abc', true],
      ['a*b*c', 'aXbYc', true],
      ['a*b*c', 'aXcYb', false],
      ['*', '', true],
      ['**', 'a/b/c', true],
      ['*/*', 'a/b', true],
      ['*/*', 'a/b/c', false],
      ['a**/x', 'a/b/c/x', true],
      ['svc@*:9', 'svc@eu:9', true],
    ];
    for (const [pattern, text, expected] of cases) {
      assert.equal(compileGlob(pattern).test(text), expected, `${pattern} ~ ${text}`);
      assert.equal(oracle(pattern).test(text), expected, `oracle: ${pattern} ~ ${text}`);
    }
  });

  it('agrees with the regular expressions on 20 000 random patterns and entities', () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return Math.floor(seed / 65_536) % n;
    };
    const pick = (alphabet: string, length: number) =>
      Array.from({ length }, () => alphabet[rand(alphabet.length)]).join('');
    let matched = 0;
    for (let i = 0; i < 20_000; i++) {
      const pattern = pick('ab/.**', 1 + rand(7)).replaceAll('***', '**');
      const text = pick('ab/.', rand(8));
      const expected = oracle(pattern).test(text);
      assert.equal(compileGlob(pattern).test(text), expected, `${pattern} ~ ${text}`);
      if (expected) matched++;
    }
    // Both outcomes well represented, so the agreement means something.
    assert.ok(matched > 1000 && matched < 19_000, `${matched} matched`);
  });

  it('answers the review’s slow inputs in milliseconds, where the regular expressions took seconds', () => {
    const inputs: Array<[string, string]> = [
      ['*-*-*-*-*-db', '-'.repeat(199)],
      ['*a*a*a*a*a*a*b', 'a'.repeat(60)],
      ['**a**a**a**a**a**a**b', 'a'.repeat(200)],
      ['*-*-*-*-*-*-*-*-*-*-*-*-*-*-*-*-*-*-*-db', `${'-'.repeat(10_000)}x`],
    ];
    for (const [pattern, text] of inputs) {
      const glob = compileGlob(pattern);
      assert.equal(glob.test(text), false);
      const ms = Math.min(...Array.from({ length: 5 }, () => timed(() => glob.test(text))));
      assert.ok(ms < 20, `${pattern} against ${text.length} characters took ${ms.toFixed(1)} ms`);
    }
    // The same inputs still match when they should.
    assert.equal(compileGlob('*a*a*a*a*a*a*b').test(`${'a'.repeat(60)}b`), true);
  });

  it('keeps the catalog’s slow case quick: an attacker-chosen entity against a service’s patterns', () => {
    const { catalog, problems } = parseCatalog(
      'catalog.json',
      JSON.stringify({
        services: { db: { owner: 'team-db', tier: 1, entities: ['*-*-*-*-*-db', '*a*a*a*a*a*a*b'] } },
      }),
    );
    assert.deepEqual(problems, []);
    const ms = timed(() => {
      assert.equal(catalog.serviceOf('-'.repeat(199)), undefined);
      assert.equal(catalog.serviceOf('a'.repeat(60)), undefined);
    });
    assert.ok(ms < 50, `took ${ms.toFixed(1)} ms`);
    assert.equal(catalog.serviceOf('eu-west-1-orders-x-db')?.name, 'db');
  });
});
