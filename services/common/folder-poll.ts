import fs from 'node:fs';

/**
 * One file's part of a folder fingerprint: size, modification time in nanoseconds and inode,
 * following symlinks. The inode is what sees kubelet's ConfigMap update (new files in a new
 * `..<timestamp>` folder, `..data` swapped to it): the new file may have the old one's size and, within
 * the clock's tick or from a tool that keeps times, its time too, but it is another file.
 */
export function fileStamp(file: string): string {
  const s = fs.statSync(file, { bigint: true, throwIfNoEntry: false });
  return s ? `${s.size}:${s.mtimeNs}:${s.ino}` : 'missing';
}

/**
 * Watches a folder by polling a cheap fingerprint of its files (names, sizes, times): on a change,
 * runs `onChange` once, never two at a time. A fingerprint that cannot be taken counts as a change
 * (the loader then says what is wrong).
 */
export class FolderPoll {
  private stamp: string;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly fingerprint: () => string,
    private readonly onChange: () => Promise<void>,
  ) {
    this.stamp = this.take();
  }

  /** Polls every `intervalMs`; 0 leaves it to explicit `check` calls. */
  start(intervalMs: number): this {
    if (intervalMs > 0) this.timer = setInterval(() => void this.check(), intervalMs).unref();
    return this;
  }

  /** Looks once now; resolves when any reload it started is done. */
  check(): Promise<void> {
    this.running ??= this.runIfChanged().finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async runIfChanged(): Promise<void> {
    const stamp = this.take();
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    await this.onChange();
  }

  private take(): string {
    try {
      return this.fingerprint();
    } catch (err) {
      return `unreadable: ${(err as Error).message}`;
    }
  }
}
