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
