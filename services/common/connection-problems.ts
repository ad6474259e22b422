/**
 * The latest reason, per connection (kafka, temporal), that a running service's client was
 * refused for good (a password rotated on the broker, a certificate expired): `/readyz` shows it
 * beside the failing checks, so whoever looks at a not-ready service reads the fix, not a retry log.
 */
const problems = new Map<string, { readonly problem: string; readonly at: string }>();

/** Records `line` (one line naming the endpoint, the mechanism and the fix; never a secret) for `connection`. */
export function noteConnectionProblem(connection: string, line: string): void {
  problems.set(connection, { problem: line, at: new Date().toISOString() });
}

/** Forgets the problem of `connection` (it was mended: a later connection succeeded). */
export function clearConnectionProblem(connection: string): void {
  problems.delete(connection);
}

/** The problems noted, by connection, for `/readyz`. */
export function connectionProblems(): Record<string, { readonly problem: string; readonly at: string }> {
  return Object.fromEntries(problems);
}
