import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Returns the absolute path of an executable on PATH, or undefined. */
export function which(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Runs a command to completion, appending its output to `logPath`; resolves with the exit code. */
export function runLogged(
  cmd: string,
  args: string[],
  logPath: string,
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
) {
  fs.mkdirSync(path.dirname(logPath), { recursive: true });
  const fd = fs.openSync(logPath, 'a');
  fs.writeSync(fd, `\n$ ${cmd} ${args.join(' ')}\n`);
  return new Promise<number>((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', fd, fd],
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      fs.closeSync(fd);
      resolve(code ?? 1);
    });
  });
}

/** Runs a command and returns its stdout (trimmed), or undefined when it fails. */
export function capture(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 15_000 });
  return r.status === 0 ? `${r.stdout}${r.stderr}`.trim() : undefined;
}

/** Starts a long-running process detached from us, output to `logPath`, pid to `pidPath`. */
export function startDetached(
  cmd: string,
  args: string[],
  logPath: string,
  pidPath: string,
  cwd?: string,
): number {
  fs.mkdirSync(path.dirname(logPath), { recursive: true });
  fs.mkdirSync(path.dirname(pidPath), { recursive: true });
  const fd = fs.openSync(logPath, 'a');
  const child = spawn(cmd, args, { cwd, detached: true, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  child.unref();
  fs.writeFileSync(pidPath, `${child.pid}\n`);
  return child.pid;
}

/** The pid recorded in `pidPath` if that process is still alive. */
export function livePid(pidPath: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(fs.readFileSync(pidPath, 'utf8'), 10);
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && isAlive(pid) ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; removes the pid file. Returns whether a process was stopped. */
export async function stopPid(pidPath: string, graceMs = 20_000): Promise<boolean> {
  const pid = livePid(pidPath);
  fs.rmSync(pidPath, { force: true });
  if (pid === undefined) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(200);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  return true;
}

/** Resident memory of a process in MiB (Linux /proc), or undefined. */
export function residentMiB(pid: number): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
    return kb ? Math.round(Number(kb) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** Polls `check` until it resolves true or `timeoutMs` passes; returns the last error text on timeout. */
export async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 500,
): Promise<{ ok: true } | { ok: false; lastError?: string }> {
  const deadline = Date.now() + timeoutMs;
  let lastError: string | undefined;
  for (;;) {
    try {
      if (await check()) return { ok: true };
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() >= deadline) return { ok: false, lastError };
    await sleep(everyMs);
  }
}
