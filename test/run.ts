/**
 * `npm test`: brings the local infra up once (or uses KAFKA_BROKERS / TEMPORAL_ADDRESS), then
 * runs every test file with Node's own test runner. `--unit` runs the server-free tests only.
 * Extra arguments are file filters: `npm test -- e2e`. Where a Docker engine answers,
 * `AUTOGLM_INFRA=testcontainers` runs Kafka and Temporal in containers for the run instead.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startContainers } from '../infra/containers.js';
import { localInfra, type InfraEndpoints } from '../infra/infra.js';
import { repoRoot } from '../infra/paths.js';

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => !a.startsWith('--'));

const testDir = path.join(repoRoot, 'test');
const files = (fs.readdirSync(testDir, { recursive: true }) as string[])
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => !unitOnly || f.startsWith(`unit${path.sep}`))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort()
  .map((f) => path.join(testDir, f));

const env: NodeJS.ProcessEnv = { ...process.env, AUTOGLM_LOG_FORMAT: 'json' };
let stopContainers: (() => Promise<void>) | undefined;
if (!unitOnly) {
  const started = Date.now();
  const log = (line: string) => process.stderr.write(`infra: ${line}\n`);
  let endpoints: InfraEndpoints;
  if (process.env.AUTOGLM_INFRA === 'testcontainers') {
    log('starting Kafka and Temporal containers (testcontainers)');
    const containers = await startContainers().catch((err: Error) => {
      log(err.message);
      process.exit(1);
    });
    stopContainers = () => containers.stop();
    endpoints = containers;
  } else {
    endpoints = await localInfra().up(log);
  }
  log(`ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  env.KAFKA_BROKERS = endpoints.kafkaBrokers;
  env.TEMPORAL_ADDRESS = endpoints.temporalAddress;
}

const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
  stdio: 'inherit',
  env,
});
child.on('exit', (code, signal) => {
  const exit = () => process.exit(code ?? (signal ? 1 : 0));
  if (stopContainers) stopContainers().then(exit, exit);
  else exit();
});
