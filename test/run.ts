/**
 * `npm test`: runs the selected test files with Node's own test runner, after bringing up only
 * what they need:
 * - `test/unit/`: nothing;
 * - `test/workflow/`: Temporal's time-skipping test server (installed once, path exported as
 *   TEMPORAL_TEST_SERVER_PATH; each test file starts its own server process);
 * - anything else: the local Kafka and Temporal (or KAFKA_BROKERS / TEMPORAL_ADDRESS). Where a
 *   Docker engine answers, `AUTOGLM_INFRA=testcontainers` runs them in containers instead.
 *
 * `--unit` selects the unit tests only, `--workflow` the workflow tests only (both: either).
 * Other arguments are file filters: `npm test -- e2e`. No matching file is an error (exit 1).
 * `--test-timeout` caps each test AND each whole test file (files run as subprocesses, and the
 * file inherits the limit): 5 minutes (the longest file takes ~1.5), or AUTOGLM_TEST_TIMEOUT_MS. The spec reporter's summary
 * closes the output on every Node version; the exit code is the test runner's.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startContainers } from '../infra/containers.js';
import { localInfra, type InfraEndpoints } from '../infra/infra.js';
import { repoRoot } from '../infra/paths.js';
import { ensureTestServer, TEST_SERVER_PATH_ENV } from '../infra/test-server.js';

const TEST_TIMEOUT_MS = Number(process.env.AUTOGLM_TEST_TIMEOUT_MS) || 300_000;
const CATEGORIES = { '--unit': 'unit', '--workflow': 'workflow' } as const;

const args = process.argv.slice(2);
const unknown = args.filter((a) => a.startsWith('--') && !(a in CATEGORIES));
if (unknown.length > 0) {
  process.stderr.write(
    `test: unknown option ${unknown.join(', ')}; use ${Object.keys(CATEGORIES).join(' / ')} and file filters\n`,
  );
  process.exit(1);
}
const categories = args
  .filter((a): a is keyof typeof CATEGORIES => a in CATEGORIES)
  .map((a) => CATEGORIES[a]);
const filters = args.filter((a) => !a.startsWith('--'));

const testDir = path.join(repoRoot, 'test');
const inFolder = (file: string, folder: string) => file.startsWith(`${folder}${path.sep}`);
const selected = (fs.readdirSync(testDir, { recursive: true }) as string[])
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => categories.length === 0 || categories.some((c) => inFolder(f, c)))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

if (selected.length === 0) {
  const what = [
    categories.length > 0 ? `in ${categories.map((c) => `test/${c}/`).join(' or ')}` : 'under test/',
    filters.length > 0 ? `matching ${filters.map((f) => JSON.stringify(f)).join(' or ')}` : '',
  ];
  process.stderr.write(`test: no test file ${what.filter(Boolean).join(' ')}: nothing to run\n`);
  process.exit(1);
}

const env: NodeJS.ProcessEnv = { ...process.env, AUTOGLM_LOG_FORMAT: 'json' };
const log = (line: string) => process.stderr.write(`infra: ${line}\n`);
const fail = (err: unknown): never => {
  log(err instanceof Error ? err.message : String(err));
  process.exit(1);
};

if (selected.some((f) => inFolder(f, 'workflow'))) {
  const started = Date.now();
  const exe = await ensureTestServer().catch(fail);
  log(`temporal test server: ${exe} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
  env[TEST_SERVER_PATH_ENV] = exe;
}

let stopContainers: (() => Promise<void>) | undefined;
if (selected.some((f) => !inFolder(f, 'unit') && !inFolder(f, 'workflow'))) {
  const started = Date.now();
  let endpoints: InfraEndpoints;
  if (process.env.AUTOGLM_INFRA === 'testcontainers') {
    log('starting Kafka and Temporal containers (testcontainers)');
    const containers = await startContainers().catch(fail);
    stopContainers = () => containers.stop();
    endpoints = containers;
  } else {
    endpoints = await localInfra().up(log).catch(fail);
  }
  log(`ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  env.KAFKA_BROKERS = endpoints.kafkaBrokers;
  env.TEMPORAL_ADDRESS = endpoints.temporalAddress;
}

const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    // Before any test loads kafkajs: its read_committed filter is replaced (see the module). In the
    // main thread only: worker threads (Temporal's workflow threads) inherit these flags without
    // tsx's hooks, and failed on the .ts file ("Unknown file extension").
    '--import',
    `data:text/javascript,${encodeURIComponent(
      `import { isMainThread } from 'node:worker_threads';
       if (isMainThread) await import(${JSON.stringify(pathToFileURL(path.join(repoRoot, 'services/common/kafkajs-aborted-filter.ts')).href)});`,
    )}`,
    '--test',
    '--test-concurrency=1',
    `--test-timeout=${TEST_TIMEOUT_MS}`,
    '--test-reporter=spec',
    ...selected.map((f) => path.join(testDir, f)),
  ],
  { stdio: 'inherit', env },
);
child.on('exit', (code, signal) => {
  const exit = () => process.exit(code ?? (signal ? 1 : 0));
  if (stopContainers) stopContainers().then(exit, exit);
  else exit();
});
