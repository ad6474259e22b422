/**
 * Review N1 on the real broker and the real sense service: 64 samples with 60 KB metric names (that
 * used to build one 26.9 MB observation whose failed send blocked every later batch), 1000-character
 * names, an entity whose 128-character names would outgrow AUTOGLM_MAX_OBSERVATION_BYTES, and an
 * observation the broker refuses for good (the observations topic's max.message.bytes lowered).
 * Each lands in the dead-letter topic with its reason; later batches of other entities are observed
 * and the group commits to the end of the input.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import { topicNames } from '../../services/common/config.js';
import type { DeadLetter, MetricSample, Observation } from '../../services/common/contracts.js';
import { createLogger } from '../../services/common/logger.js';
import { unique } from '../support/config.js';
import { TopicTap } from '../support/kafka.js';
import { SenseRun } from '../support/sense-run.js';

const logger = createLogger('warn');

const T0 = Date.now() - 60_000;
const at = (entity: string, metric: string, i: number, value = 50): MetricSample => ({
  entity,
  metric,
  value,
  ts: T0 + i * 500,
});
const names = (n: number, length: number) =>
  Array.from({ length: n }, (_, k) => `m${k}_`.padEnd(length, 'x'));
const letters = (dlq: TopicTap, entity: string) =>
  dlq.values<DeadLetter>((d) => d.key === entity).sort((a, b) => Number(a.offset) - Number(b.offset));

describe('sense bounds what one entity can make it build (real Kafka)', () => {
  const runs: SenseRun[] = [];
  const taps: TopicTap[] = [];
  after(async () => {
    for (const t of taps) await t.stop();
    for (const r of runs) await r.cleanUp();
  });

  /** A run of its own with taps on its dead-letter and observations topics; `prepare` runs before sense starts. */
  async function start(good: string[], prepare: (run: SenseRun) => Promise<void> = async () => {}) {
    const run = new SenseRun(2, logger);
    runs.push(run);
    await run.produce(good.map((e) => at(e, 'cpu', 0))); // creates the topics
    await prepare(run);
    const { dlq, observations } = topicNames(run.config);
    const tapped = {
      dlq: await new TopicTap(run.kafka, dlq, logger).start(),
      observations: await new TopicTap(run.kafka, observations, logger).start(),
    };
    taps.push(tapped.dlq, tapped.observations);
    await run.startSense();
    return { run, ...tapped };
  }

  /** Later batches of the good entities are observed, and the group commits to the end of the input. */
  async function laterBatchesObserved(run: SenseRun, observations: TopicTap, good: string[]) {
    for (let i = 10; i < 16; i++) await run.produce(good.map((e) => at(e, 'cpu', i)));
    for (const e of good) {
      await observations.waitFor<Observation>(
        (o) => o.entity === e && o.window.end === T0 + 15 * 500,
        60_000,
      );
    }
    await run.caughtUp();
  }

  it('dead-letters the 60 KB names of N1 and the metrics that would outgrow the observation, and keeps observing', async () => {
    const good = [unique('good-a'), unique('good-b')];
    const [huge, long, wide] = ['huge', 'long', 'wide'].map((p) => unique(p)) as [string, string, string];
    const { run, dlq, observations } = await start(good);

    // The N1 input: 64 valid-looking samples of one entity with 60 KB names, then 1000-character names.
    await run.produce(names(64, 60_000).map((m) => at(huge, m, 1)));
    await run.produce(names(8, 1000).map((m) => at(long, m, 2)));
    // 128-character names, all valid: 64 of them would make a ~100 KB observation; the rest is refused.
    await run.produce(names(64, 128).map((m) => at(wide, m, 3)));
    await run.produce([at(wide, names(1, 128)[0]!, 4)]);
    await laterBatchesObserved(run, observations, good);
    await dlq.waitFor<DeadLetter>((d) => d.key === wide, 30_000);

    const hugeLetters = letters(dlq, huge);
    assert.equal(hugeLetters.length, 64, 'every 60 KB name is refused');
    for (const d of hugeLetters) {
      assert.equal(d.reason, 'schema');
      assert.equal(d.issues[0]?.path, 'metric');
      assert.match(d.issues[0]?.message ?? '', /at most 128 characters/);
      assert.ok(d.valueBytes > 60_000 && d.valueTruncated);
    }
    assert.deepEqual(
      letters(dlq, long).map((d) => [d.reason, d.issues[0]?.path]),
      Array.from({ length: 8 }, () => ['schema', 'metric']),
    );
    assert.equal(observations.values<Observation>((o) => o.entity === huge || o.entity === long).length, 0);

    const observedWide = observations.values<Observation>((o) => o.entity === wide);
    assert.ok(observedWide.length >= 2, 'the rest of the entity is still observed');
    const last = observedWide.at(-1)!;
    const kept = Object.keys(last.features).filter((f) => f.endsWith('.avg')).length;
    assert.ok(kept >= 10 && kept < 64, `${kept} of the 64 long-named metrics kept`);
    const wideLetters = letters(dlq, wide);
    assert.equal(wideLetters.length, 64 - kept);
    for (const d of wideLetters) {
      assert.equal(d.reason, 'observation_too_large');
      assert.equal(d.issues[0]?.path, 'metric');
      assert.match(d.issues[0]?.message ?? '', /AUTOGLM_MAX_OBSERVATION_BYTES/);
    }
    const largest = Math.max(
      ...observations.values<Observation>(() => true).map((o) => JSON.stringify(o).length),
    );
    assert.ok(largest <= run.config.maxObservationBytes, `largest observation ${largest} bytes`);
  });

  it('dead-letters the sample whose observation the broker refuses for good, and commits its batch', async () => {
    const good = [unique('good-c'), unique('good-d')];
    const refused = unique('broker');
    const { run, dlq, observations } = await start(good, async (r) => {
      const admin = r.kafka.admin();
      await admin.connect();
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: kafkajs.ConfigResourceTypes.TOPIC,
            name: topicNames(r.config).observations,
            configEntries: [{ name: 'max.message.bytes', value: '6000' }],
          },
        ],
      });
      await admin.disconnect();
    });
    // 10 metrics of 100 characters: a ~9 KB observation, under the 32 KiB limit, over what the topic takes.
    await run.produce(names(10, 100).map((m) => at(refused, m, 1)));
    await run.produce([at(refused, names(1, 100)[0]!, 2)]);
    await laterBatchesObserved(run, observations, good);

    await dlq.waitFor<DeadLetter>((d) => d.key === refused, 10_000);
    const [letter, ...more] = letters(dlq, refused);
    assert.equal(more.length, 0);
    assert.equal(letter?.reason, 'unpublishable');
    assert.match(letter?.issues[0]?.message ?? '', /its observation was not sent: the broker refused it/);
    // The first observation of the entity (one metric) went through; the 10-metric one did not.
    const sent = observations.values<Observation>((o) => o.entity === refused);
    assert.equal(sent.length, 1);
    assert.deepEqual(
      [...new Set(Object.keys(sent[0]!.features).map((f) => f.split('.')[0]))],
      [names(1, 100)[0]],
    );
  });
});
