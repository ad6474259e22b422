import { setTimeout as sleep } from 'node:timers/promises';
import type { Producer } from 'kafkajs';
import type { Observation } from '../../services/common/contracts.js';
import { sendJson } from '../../services/common/kafka.js';

/** What one entity's observations say, tick by tick, and how long before sending their windows end. */
export interface ObservationScript {
  readonly features: (tick: number) => Record<string, number>;
  readonly agoMs?: number;
}

/**
 * Publishes an observation of every scripted entity each `intervalMs`, as sense would (3s windows
 * ending now, or `agoMs` ago), until stopped: the verify tests' stand-in for a fleet.
 */
export class ObservationFeeder {
  private readonly scripts = new Map<string, ObservationScript>();
  private running = true;
  private readonly loop: Promise<void>;

  constructor(producer: Producer, topic: string, intervalMs: number) {
    this.loop = (async () => {
      for (let tick = 0; this.running; tick++) {
        const now = Date.now();
        const batch = [...this.scripts].map(([entity, s]): Observation => {
          const end = now - (s.agoMs ?? 0);
          return {
            entity,
            seq: tick,
            window: { start: end - 3000, end },
            features: s.features(tick),
            events: [],
            ts: end,
          };
        });
        if (batch.length > 0)
          await sendJson(
            producer,
            topic,
            batch.map((o) => ({ key: o.entity, value: o })),
          );
        await sleep(intervalMs);
      }
    })();
  }

  set(entity: string, script: ObservationScript): void {
    this.scripts.set(entity, script);
  }

  delete(entity: string): void {
    this.scripts.delete(entity);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
