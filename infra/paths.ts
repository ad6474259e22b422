import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the repository (the folder holding package.json). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Where provisioned tools, broker data, logs and pid files live: one git-ignored folder,
 * `.autoglm/` in the repository unless AUTOGLM_HOME names another.
 */
export function autoglmHome(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.AUTOGLM_HOME ?? path.join(repoRoot, '.autoglm'));
}

/**
 * Creates `dir` (and its parents) if missing and makes it readable by this user only, also when it
 * existed: a component's data (Temporal's database with its payloads, Kafka's logs) is only ours.
 */
export function privateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}

/** The folders of one component under the home folder. */
export function componentPaths(home: string, name: string) {
  return {
    tools: path.join(home, 'tools'),
    data: path.join(home, 'data', name),
    log: path.join(home, 'logs', `${name}.log`),
    pid: path.join(home, 'run', `${name}.pid`),
  } as const;
}
