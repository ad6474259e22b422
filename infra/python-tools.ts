/**
 * Python packages the tests run beside Node, each set in a private virtual environment under the
 * autoglm home (`<home>/tools/python-<name>-<hash of its pins>/`): installed once with pip from the
 * package index, then a cheap file check. Like the Temporal test server's install, the venv is
 * built under a temporary name and renamed into place, so a crashed or concurrent install never
 * leaves a half-made one behind.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PrerequisiteError, ProvisionError } from './errors.js';
import { autoglmHome } from './paths.js';
import { runLogged, which } from './process.js';

/** A set of pinned Python packages and the module whose import proves them installed. */
export interface PythonTool {
  readonly name: string;
  /** pip requirement specifiers, pinned (`name==version`). */
  readonly packages: readonly string[];
  /** A module imported once after the install to prove it works. */
  readonly probe: string;
}

/**
 * A Kafka producer that is not kafkajs: Python's confluent-kafka, whose wheels carry librdkafka
 * (the client Vector, Telegraf's and many Go services' Kafka outputs share), with every codec.
 */
export const LIBRDKAFKA_PRODUCER: PythonTool = {
  name: 'librdkafka',
  packages: ['confluent-kafka==2.16.1'],
  probe: 'confluent_kafka',
};

/** Where a tool's venv, its interpreter and its install log live under an autoglm home. */
export function pythonToolPaths(tool: PythonTool, home: string = autoglmHome()) {
  const pins = createHash('sha256').update(tool.packages.join('\n')).digest('hex').slice(0, 10);
  const venv = path.join(home, 'tools', `python-${tool.name}-${pins}`);
  return {
    venv,
    python: path.join(venv, 'bin', 'python'),
    /** Written last: its presence means the install finished and the probe imported. */
    done: path.join(venv, '.installed'),
    log: path.join(home, 'logs', `python-${tool.name}-provision.log`),
  } as const;
}

/**
 * Returns the Python interpreter of `tool`'s venv, installing the venv first when it is not
 * there (python3 with venv and pip needed; pip reaches the package index).
 */
export async function ensurePythonTool(tool: PythonTool, home: string = autoglmHome()): Promise<string> {
  const paths = pythonToolPaths(tool, home);
  if (fs.existsSync(paths.done)) return paths.python;
  const python = which('python3') ?? which('python');
  if (!python)
    throw new PrerequisiteError(
      'Python 3 with venv and pip',
      `Install it (apt-get install python3-venv python3-pip) to get ${tool.packages.join(' ')}; see ${paths.log}.`,
    );
  fs.mkdirSync(path.dirname(paths.log), { recursive: true });
  const staging = `${paths.venv}.tmp-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  try {
    if ((await runLogged(python, ['-m', 'venv', staging], paths.log)) !== 0)
      throw new ProvisionError(
        `python-${tool.name}`,
        'could not create a Python virtual environment (is python3-venv installed?)',
        paths.log,
      );
    const stagedPython = path.join(staging, 'bin', 'python');
    const pip = ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', ...tool.packages];
    if ((await runLogged(stagedPython, pip, paths.log)) !== 0)
      throw new ProvisionError(
        `python-${tool.name}`,
        `pip could not install ${tool.packages.join(' ')}`,
        paths.log,
      );
    if ((await runLogged(stagedPython, ['-c', `import ${tool.probe}`], paths.log)) !== 0)
      throw new ProvisionError(
        `python-${tool.name}`,
        `${tool.probe} does not import after the install`,
        paths.log,
      );
    fs.writeFileSync(path.join(staging, '.installed'), `${tool.packages.join('\n')}\n`);
    // A leftover without the mark (an install that died half-way) is replaced.
    if (!fs.existsSync(paths.done)) fs.rmSync(paths.venv, { recursive: true, force: true });
    try {
      fs.renameSync(staging, paths.venv);
    } catch (err) {
      // Another process finished first: keep its copy.
      if (!fs.existsSync(paths.done)) throw err;
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return paths.python;
}
