import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../services/common/config.js';
import type { LoopStep } from '../../services/loop.js';
import { spawnService, stepEnv } from './service-process.js';

/** One SIGKILL of a step's process, and what was going on at that moment. */
export interface KillRecord {
  readonly step: LoopStep;
  /** Epoch ms of the SIGKILL. */
  readonly at: number;
  /** What the kill was waiting for ("timer", "an actuate request at the fleet, its answer held", …). */
  readonly moment: string;
  /** When the new process was started (set by `restart`). */
  restartedAt?: number;
}

/**
 * The loop's steps, each as its own process configured from one Config (as they would run
 * in-process with it), with a supervisor's habits: `kill` sends SIGKILL and waits for the exit,
 * `restart` starts a new one, and a process that exits by itself (a step exits 1 when a part of it
 * fails for good) is started again after `respawnDelayMs` and counted.
 */
export class StepProcesses {
  private readonly children = new Map<LoopStep, ChildProcess>();
  private readonly killing = new Set<ChildProcess>();
  private stopped = false;
  readonly kills: KillRecord[] = [];
  /** Exits nobody asked for, per step (each was restarted). */
  readonly unexpectedExits: Record<LoopStep, number> = { sense: 0, decide: 0, act: 0, verify: 0 };

  /** A process of ours must not outlive this one, however it ends (process.exit, an uncaught error). */
  private readonly killAllNow = () => {
    for (const child of this.children.values()) child.kill('SIGKILL');
  };

  /**
   * SIGTERM (the test runner ending a file past its timeout) fires no 'exit': kill ours, then let
   * the signal end this process as it would have.
   */
  private readonly onTerm = () => {
    this.killAllNow();
    if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM');
  };

  constructor(
    private readonly config: Config,
    /** Settings on top of the config's (e.g. the act step's actuator URL through a proxy). */
    private readonly env: Partial<Record<LoopStep, Record<string, string>>> = {},
    private readonly respawnDelayMs = 1000,
    /** When set, each step's stderr (its warnings and errors) is appended to `<logDir>/<step>.log`. */
    private readonly logDir?: string,
  ) {
    // A folder named on the command line (kill-soak --logs) need not exist yet.
    if (logDir) fs.mkdirSync(logDir, { recursive: true });
    process.once('exit', this.killAllNow);
    process.once('SIGTERM', this.onTerm);
  }

  /** Starts `step`'s process (a step already running is left alone). */
  start(step: LoopStep): void {
    if (this.stopped || this.children.has(step)) return;
    const child = spawnService(step, this.config, { ...stepEnv(this.config), ...this.env[step] });
    this.children.set(step, child);
    if (this.logDir)
      child.stderr?.pipe(fs.createWriteStream(path.join(this.logDir, `${step}.log`), { flags: 'a' }));
    child.once('exit', () => {
      if (this.children.get(step) === child) this.children.delete(step);
      if (this.killing.delete(child) || this.stopped) return;
      this.unexpectedExits[step]++;
      setTimeout(() => this.start(step), this.respawnDelayMs).unref();
    });
  }

  /** Whether `step` has a live process. */
  running(step: LoopStep): boolean {
    return this.children.has(step);
  }

  /** The pid of `step`'s live process: tells its Temporal poller (`<pid>@<host>`) from another's. */
  pid(step: LoopStep): number | undefined {
    return this.children.get(step)?.pid;
  }

  /** SIGKILLs `step`'s process and waits for it to be gone; undefined when it had none. */
  async kill(step: LoopStep, moment: string): Promise<KillRecord | undefined> {
    const child = this.children.get(step);
    if (!child || child.exitCode !== null || child.signalCode !== null) return undefined;
    this.killing.add(child);
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    const record: KillRecord = { step, at: Date.now(), moment };
    this.kills.push(record);
    await exited;
    return record;
  }

  /** Starts `step` again after `delayMs`, noting the time on its last kill record. */
  async restart(step: LoopStep, delayMs = 1000): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (this.stopped) return;
    this.start(step);
    const last = this.kills.findLast((k) => k.step === step);
    if (last && last.restartedAt === undefined) last.restartedAt = Date.now();
  }

  /** Kills per step. */
  killsPerStep(): Record<LoopStep, number> {
    const counts: Record<LoopStep, number> = { sense: 0, decide: 0, act: 0, verify: 0 };
    for (const k of this.kills) counts[k.step]++;
    return counts;
  }

  /** Stops every process (SIGKILL: nothing of theirs is needed any more) and starts no other. */
  async stopAll(): Promise<void> {
    this.stopped = true;
    process.off('exit', this.killAllNow);
    process.off('SIGTERM', this.onTerm);
    const exits: Promise<unknown>[] = [];
    for (const child of this.children.values()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      exits.push(once(child, 'exit'));
      child.kill('SIGKILL');
    }
    this.children.clear();
    await Promise.all(exits);
  }
}
