/**
 * Code generated from a string, for the hot paths that compile once what they run per message
 * (rule predicates, feature loaders and builders, the classifier's vectorizer): `new Function` of
 * `params` and `body` (in strict mode), called once with `args`; its result is what the caller
 * runs. Undefined where code generation from strings is disallowed
 * (--disallow-code-generation-from-strings makes `new Function` throw an EvalError): each caller
 * then has a slower way of its own. Any other error (a body that does not parse) is thrown.
 */
export function generated<T>(params: readonly string[], body: string, ...args: unknown[]): T | undefined {
  let make: (...a: unknown[]) => T;
  try {
    make = new Function(...params, `'use strict';\n${body}`) as (...a: unknown[]) => T;
  } catch (err) {
    if (err instanceof EvalError) return undefined;
    throw err;
  }
  return make(...args);
}
