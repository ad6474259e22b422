/**
 * JPMML-Evaluator's jars (Maven Central, pinned in infra/jpmml/pom.xml), fetched by Maven once into
 * the autoglm home's tools and kept there: the PMML parity test scores the exported model with them.
 * Run as a script (`npx tsx infra/jpmml.ts`), it fetches them and prints the folder: `.ci/run` does
 * so before the tests of several Node versions run side by side.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { autoglmHome, componentPaths, repoRoot } from './paths.js';

/** Where the jars are kept. */
export const jpmmlJars = (home: string = autoglmHome()) =>
  path.join(componentPaths(home, 'jpmml').tools, 'jpmml');

const ready = (dir: string) =>
  fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.startsWith('pmml-evaluator-metro'));

/**
 * The jars' folder, fetched first if missing. Maven copies into a folder of this process's own that is
 * renamed into place, so a concurrent run never sees a half-copied folder; throws with Maven's output
 * when it cannot fetch them (Maven 3.8+ and Java 17 needed).
 */
export function ensureJpmml(home: string = autoglmHome()): string {
  const dir = jpmmlJars(home);
  if (ready(dir)) return dir;
  const staging = `${dir}.tmp-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  const mvn = spawnSync(
    'mvn',
    [
      '-q',
      '-f',
      path.join(repoRoot, 'infra', 'jpmml', 'pom.xml'),
      'dependency:copy-dependencies',
      `-DoutputDirectory=${staging}`,
    ],
    { encoding: 'utf8', timeout: 300_000 },
  );
  if (mvn.status !== 0) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw new Error(
      `mvn could not fetch JPMML-Evaluator (Maven 3.8+ and Java 17 needed): ${mvn.stderr}${mvn.stdout}`,
    );
  }
  try {
    fs.renameSync(staging, dir);
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    if (!ready(dir)) throw err; // another run put it in place first: use that one
  }
  return dir;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${ensureJpmml()}\n`);
}
