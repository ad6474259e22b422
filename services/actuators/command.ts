import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { ActuatorRef } from '../common/contracts.js';
import { redactText } from '../common/url-policy.js';
import {
  ActuationRefusedError,
  boundedText,
  type ActuationRequest,
  type ActuationResult,
  type Actuator,
} from './actuator.js';

export interface CommandActuatorOptions {
  /** AUTOGLM_COMMAND_DIR: the only directory whose executables may run; '' disables the actuator. */
  readonly dir: string;
  readonly timeoutMs: number;
  /** Bytes of stdout and of stderr kept each; the rest is read and dropped so the child never blocks. */
  readonly maxOutputBytes: number;
  /**
   * AUTOGLM_COMMAND_USER: the user and group the scripts run as (needs a root worker). Unset, they
   * run as the worker's user and can read its /proc/<pid>/environ like any process of that user.
   */
  readonly runAs?: { readonly uid: number; readonly gid: number };
}

/** EX_TEMPFAIL (sysexits.h): the script's way to say "try again later". */
const EX_TEMPFAIL = 75;

/** The executable's real path inside the real `dir`, or why it may not run. Synchronous for `check`. */
function resolveCommand(dir: string, command: string): { file: string } | { problem: string } {
  if (dir === '') return { problem: 'the command actuator is disabled: set AUTOGLM_COMMAND_DIR' };
  const name = JSON.stringify(command);
  let root: string;
  try {
    root = fs.realpathSync(dir);
  } catch (err) {
    return { problem: `AUTOGLM_COMMAND_DIR ${dir} cannot be read (${(err as NodeJS.ErrnoException).code})` };
  }
  let file: string;
  try {
    file = fs.realpathSync(path.join(root, command));
  } catch {
    return { problem: `command ${name} does not exist in AUTOGLM_COMMAND_DIR` };
  }
  // realpath resolves symlinks and `..`, so this catches every way out of the directory.
  const relative = path.relative(root, file);
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative))
    return { problem: `command ${name} resolves outside AUTOGLM_COMMAND_DIR; only files inside it may run` };
  if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile())
    return { problem: `command ${name} is not a regular file` };
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    return { problem: `command ${name} is not executable (chmod +x it)` };
  }
  return { file };
}

/** Collects at most `maxBytes` of a stream and keeps draining it, so a chatty child never blocks on a full pipe. */
function collect(stream: Readable, maxBytes: number): () => string {
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on('data', (chunk: Buffer) => {
    if (size >= maxBytes) return;
    const part = chunk.subarray(0, maxBytes - size);
    chunks.push(part);
    size += part.length;
  });
  return () => boundedText(Buffer.concat(chunks), maxBytes);
}

/**
 * Runs an allowlisted executable with the rule's args (no shell), the action as JSON on stdin and
 * only AUTOGLM_* variables plus a fixed PATH in its environment. Exit 0 is success; exit 75 and a
 * timeout are transient; any other exit or a signal is a refusal, as re-running a script that failed
 * half-way could do harm. Nothing it started outlives it: when it exits or times out, its process
 * group is killed, and so is every process still carrying its run marker in its environment (one
 * that left the group with setsid). Long-lived work belongs to a service manager, not the script.
 */
export function commandActuator(opts: CommandActuatorOptions): Actuator {
  const check = (ref: ActuatorRef): string[] => {
    if (ref.type !== 'command') return [`the command actuator cannot run a ${ref.type} actuator ref`];
    const resolved = resolveCommand(opts.dir, ref.command);
    return 'problem' in resolved ? [resolved.problem] : [];
  };

  return {
    type: 'command',
    check,
    async actuate(request: ActuationRequest): Promise<ActuationResult> {
      const ref = request.actuator;
      if (ref.type !== 'command') throw new ActuationRefusedError(check(ref).join('; '));
      // Checked again right before running: the directory may have changed since the rule loaded.
      const resolved = resolveCommand(opts.dir, ref.command);
      if ('problem' in resolved) throw new ActuationRefusedError(resolved.problem, { command: ref.command });

      // Inherited by everything the script starts, unless one clears its environment on purpose.
      const marker = `${RUN_MARKER}=${randomUUID()}`;
      const start = () =>
        spawn(resolved.file, ref.args, {
          shell: false,
          cwd: path.dirname(resolved.file),
          // Own process group, so a timeout kills whatever the script started too.
          detached: true,
          ...(opts.runAs ? { uid: opts.runAs.uid, gid: opts.runAs.gid } : {}),
          env: {
            PATH: '/usr/bin:/bin',
            AUTOGLM_IDEMPOTENCY_KEY: request.idempotencyKey,
            AUTOGLM_ACTION: request.action,
            AUTOGLM_ENTITY: request.entity,
            AUTOGLM_DECISION_ID: request.decisionId,
            [RUN_MARKER]: marker.slice(RUN_MARKER.length + 1),
          },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
      let child: ReturnType<typeof start>;
      try {
        child = start();
      } catch (err) {
        // Node throws some spawn failures (EPERM from a uid switch) instead of emitting them.
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        const hint = code === 'EPERM' ? ': AUTOGLM_COMMAND_USER needs the worker to run as root' : '';
        throw new ActuationRefusedError(
          `command ${JSON.stringify(ref.command)} could not start (${code})${hint}`,
          {
            command: ref.command,
          },
        );
      }
      const stdout = collect(child.stdout, opts.maxOutputBytes);
      const stderr = collect(child.stderr, opts.maxOutputBytes);
      // A script that does not read stdin may exit before we finish writing: EPIPE is expected.
      child.stdin.on('error', () => undefined);
      child.stdin.end(
        JSON.stringify({
          idempotencyKey: request.idempotencyKey,
          decisionId: request.decisionId,
          entity: request.entity,
          action: request.action,
          args: ref.args,
        }),
      );

      const outcome = await new Promise<
        | { kind: 'exit'; code: number | null; signal: NodeJS.Signals | null }
        | { kind: 'timeout' }
        | { kind: 'error'; err: NodeJS.ErrnoException }
      >((resolve) => {
        let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
        const timer = setTimeout(() => {
          killGroup(child.pid);
          child.stdout.destroy();
          child.stderr.destroy();
          // Exited but a leftover background process held our pipes open: the exit status still counts.
          resolve(exited ? { kind: 'exit', ...exited } : { kind: 'timeout' });
        }, opts.timeoutMs);
        child.once('exit', (code, signal) => {
          exited = { code, signal };
          // Its background children go with it, which also closes pipes they held open.
          killGroup(child.pid);
        });
        child.once('close', (code, signal) => {
          clearTimeout(timer);
          resolve({ kind: 'exit', code, signal });
        });
        child.once('error', (err) => {
          clearTimeout(timer);
          killGroup(child.pid);
          resolve({ kind: 'error', err });
        });
      });

      killGroup(child.pid);
      await killMarked(marker);

      const name = JSON.stringify(ref.command);
      if (outcome.kind === 'timeout')
        throw new Error(`command ${name} did not finish within ${opts.timeoutMs} ms and was killed`);
      if (outcome.kind === 'error') {
        // The file vanished or lost its x bit between check and spawn: that will not fix itself.
        // EPERM: not allowed to switch to AUTOGLM_COMMAND_USER, which needs a root worker.
        const permanent = ['ENOENT', 'EACCES', 'ENOEXEC', 'EPERM'].includes(outcome.err.code ?? '');
        const message = `command ${name} could not start (${outcome.err.code ?? outcome.err.message})`;
        if (permanent) throw new ActuationRefusedError(message, { command: ref.command });
        throw new Error(message);
      }
      const detail = { command: ref.command, exitCode: outcome.code, stdout: stdout(), stderr: stderr() };
      if (outcome.code === 0) return { actuator: 'command', at: Date.now(), detail };
      if (outcome.code === EX_TEMPFAIL)
        throw new Error(
          `command ${name} exited ${EX_TEMPFAIL} (temporary failure): ${redactText(detail.stderr)}`,
        );
      const how = outcome.signal ? `was killed by ${outcome.signal}` : `exited ${outcome.code}`;
      throw new ActuationRefusedError(`command ${name} ${how}: ${redactText(detail.stderr)}`, {
        ...detail,
        signal: outcome.signal,
      });
    },
  };
}

/** The environment variable that marks every process one command run started. */
const RUN_MARKER = 'AUTOGLM_COMMAND_RUN';

/**
 * SIGKILLs every process whose environment holds `marker` (`NAME=value`): those a script started
 * and that left its process group (setsid). Linux only (/proc); elsewhere, and for a process that
 * cleared its environment, only the group kill applies.
 */
async function killMarked(marker: string): Promise<void> {
  const wanted = Buffer.from(`${marker}\0`);
  const pids = await fs.promises.readdir('/proc').catch(() => [] as string[]);
  await Promise.all(
    pids
      .filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)
      .map(async (name) => {
        const environ = await fs.promises.readFile(`/proc/${name}/environ`).catch(() => undefined);
        if (environ?.includes(wanted)) {
          try {
            process.kill(Number(name), 'SIGKILL');
          } catch {
            // Gone meanwhile.
          }
        }
      }),
  );
}

/** SIGKILL to the child's process group (it leads one, being detached); ignores a group already gone. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already exited: nothing left to kill.
  }
}
