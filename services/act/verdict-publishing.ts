import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Whether verdicts reach Kafka: the verdicts whose publishing has failed and not yet succeeded (the
 * workflow retries them without limit), and for how long the oldest has been failing. Past
 * `alarmAfterMs` the act worker's `/readyz` turns false: verdicts are stuck and somebody must know.
 */
export class VerdictPublishing {
  private readonly failingSince = new Map<string, number>();
  private readonly failures: Counter;

  constructor(
    registry: Registry,
    private readonly alarmAfterMs: number,
    private readonly now: () => number = Date.now,
  ) {
    const registers = [registry];
    this.failures = new Counter({
      name: 'autoglm_act_verdict_publish_failures_total',
      help: 'Attempts to publish a verdict that failed (each is retried by its workflow)',
      registers,
    });
    const unpublished = () => this.failingSince.size;
    const failingSeconds = () => this.oldestFailingMs() / 1000;
    new Gauge({
      name: 'autoglm_act_verdicts_unpublished',
      help: 'Verdicts whose publishing failed and has not succeeded yet',
      registers,
      collect(this: Gauge) {
        this.set(unpublished());
      },
    });
    new Gauge({
      name: 'autoglm_act_verdict_publish_failing_seconds',
      help: 'How long the oldest unpublished verdict has been failing (0 when none)',
      registers,
      collect(this: Gauge) {
        this.set(failingSeconds());
      },
    });
  }

  /** Publishes through `send`, recording a failure (rethrown for the workflow to retry) or the success. */
  async publish(workflowId: string, send: () => Promise<void>): Promise<void> {
    try {
      await send();
      this.failingSince.delete(workflowId);
    } catch (err) {
      this.failures.inc();
      if (!this.failingSince.has(workflowId)) this.failingSince.set(workflowId, this.now());
      throw err;
    }
  }

  /** False once a verdict has been failing to publish for longer than the alarm. */
  healthy(): boolean {
    return this.oldestFailingMs() <= this.alarmAfterMs;
  }

  private oldestFailingMs(): number {
    let oldest = Infinity;
    for (const since of this.failingSince.values()) oldest = Math.min(oldest, since);
    return oldest === Infinity ? 0 : this.now() - oldest;
  }
}
