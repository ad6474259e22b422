// First: kafkajs must load with our read_committed filter (see the module).
import '../common/kafkajs-aborted-filter.js';
import path from 'node:path';
import { topicNames } from '../common/config.js';
import { verdictSchema } from '../common/contracts.js';
import { DeadLetters } from '../common/dead-letters.js';
import { connectProducer, createKafka, ensureTopics, runConsumer } from '../common/kafka.js';
import { isEntryPoint, runStandalone, type Service, type ServiceContext } from '../common/service.js';
import { connectClient } from '../common/temporal.js';
import { RunbookIndex } from '../runbooks/runbook-index.js';
import { DecideHandler } from './decide-handler.js';
import { Decider } from './decider.js';
import { restoreEpisodes } from './episode-changelog.js';
import { followStaleEnds } from './episode-stale-ends.js';
import { readFreshDecisionIds } from './fresh-decisions.js';
import { EpisodeTracker } from './episodes.js';
import { jsonValue } from './message-json.js';
import { RuleReloader } from './rule-reload.js';
import { checkDecideStart } from './start-checks.js';
import { RemediationStarter } from './workflow-starter.js';

/** Wires the decide step: observations in, rules evaluated, decisions out, workflows started. */
export async function startDecide({
  config,
  logger: root,
  registry,
  onFatal,
}: ServiceContext): Promise<Service> {
  const logger = root.child({ service: 'decide' });
  // Every file decide reads, checked before anything connects; one error lists every problem.
  const {
    ruleSet,
    load,
    classifier,
    runbooks: sections,
  } = await checkDecideStart(config, { logger, registry });
  logger.info(
    {
      rules: ruleSet.rules.map((r) => `${r.name}@${r.version}`),
      ruleSet: ruleSet.hash,
      dir: config.rulesDir,
    },
    'rules loaded',
  );
  if (!classifier) logger.info('no incident classifier (AUTOGLM_MODEL_DIR=off): rules only');
  // No runbooks folder (or AUTOGLM_RUNBOOK_HITS=0) means decisions without them.
  const runbooks = sections
    ? new RunbookIndex(sections, path.basename(path.resolve(config.runbooksDir)))
    : undefined;
  logger.info(
    { dir: config.runbooksDir, sections: runbooks?.size ?? 0, hits: config.runbookHits },
    runbooks ? 'runbooks loaded' : 'no runbooks: decisions carry none',
  );
  const topics = topicNames(config);
  const kafka = createKafka(config, logger);
  await ensureTopics(kafka, Object.values(topics), config.topicPartitions);
  const producer = await connectProducer(kafka);
  const client = await connectClient(config);
  const episodes = new EpisodeTracker({ maxTracked: config.episodeMaxTracked, idleMs: config.episodeIdle });
  const decider = new Decider(ruleSet, {
    maxDecisionAgeMs: config.maxDecisionAge,
    episodes,
    ...(runbooks ? { runbooks: { index: runbooks, hits: config.runbookHits } } : {}),
  });
  const reloader = new RuleReloader({
    dir: config.rulesDir,
    decider,
    load,
    intervalMs: config.rulesReloadInterval,
    logger,
    registry,
  }).start();
  const handler = new DecideHandler({
    decider,
    ...(classifier ? { classifier } : {}),
    starter: new RemediationStarter(client, config),
    producer,
    decisionsTopic: topics.decisions,
    deadLetters: new DeadLetters(producer, topics.dlq, 'decide', registry, logger, config.dlqMaxValueBytes),
    maxClockSkewMs: config.maxClockSkew,
    maxStartFailures: config.maxStartFailures,
    startConcurrency: config.decideStartConcurrency,
    episodes: {
      topic: topics.episodes,
      restore: (partition, out) =>
        restoreEpisodes(
          kafka,
          topics.episodes,
          partition,
          episodes,
          out,
          { maxMessages: Number.MAX_SAFE_INTEGER, timeoutMs: config.episodeRestoreTimeout },
          config.groupPrefix,
        ),
    },
    // A replay that re-decides a decision stale tells one published fresh (its start maybe lost).
    freshDecisions: {
      lookbackMs: config.episodeIdle,
      read: () =>
        readFreshDecisionIds(
          kafka,
          topics.decisions,
          config.episodeIdle,
          { maxMessages: Number.MAX_SAFE_INTEGER, timeoutMs: config.episodeRestoreTimeout },
          config.groupPrefix,
        ),
    },
    logger,
    registry,
  });
  const consumer = await runConsumer({
    kafka,
    groupId: `${config.groupPrefix}-decide`,
    topics: [topics.observations],
    fromBeginning: true,
    logger,
    // A new generation: each partition's episodes are read back from the changelog before its first batch.
    onJoin: () => handler.reset(),
    eachBatch: (payload) => handler.handleBatch(payload),
    partitionsConsumedConcurrently: config.topicPartitions,
    fastFailover: true,
    ...(onFatal ? { onFatal } : {}),
  });
  // A remediation that ended stale never acted: its episode decides again (episodes.ts). Started
  // beside the rest, not before it: stale ends are rare, and one read later still re-opens.
  const staleEnds = followStaleEnds({
    kafka,
    topic: topics.verdicts,
    groupPrefix: config.groupPrefix,
    lookbackMs: config.episodeIdle,
    logger,
    onStale: (v) => {
      logger.info(
        { entity: v.entity, rule: v.rule, decisionId: v.decisionId, outcome: v.outcome },
        v.outcome === 'stale'
          ? 'remediation ended stale without acting: its episode may decide again'
          : 'remediation absorbed: its input predates a fix of the entity; its episode may decide again',
      );
      decider.staleEnded(v.entity, v.rule, v.decisionId);
    },
    ...(onFatal ? { onFatal } : {}),
  });
  staleEnds.catch((err: unknown) => {
    logger.error({ err }, 'cannot follow the verdicts for stale ends: episodes they spent stay spent');
    onFatal?.(err instanceof Error ? err : new Error(String(err)));
  });
  // Verdicts feed the classifier's live AUC: a verified remediation confirms the class it was given.
  const feedback = classifier
    ? await runConsumer({
        kafka,
        groupId: `${config.groupPrefix}-decide-feedback`,
        topics: [topics.verdicts],
        fromBeginning: false,
        logger,
        eachMessage: async ({ message }) => {
          const verdict = verdictSchema.safeParse(jsonValue(message.value));
          if (verdict.success) classifier.recordVerdict(verdict.data);
        },
        ...(onFatal ? { onFatal } : {}),
      })
    : undefined;
  return {
    name: 'decide',
    readiness: () => ({ 'decide.consumer': consumer.joined(), 'decide.temporal': handler.startsHealthy() }),
    liveness: () => ({ 'decide.consumer': consumer.alive() }),
    async stop() {
      await reloader.stop();
      await classifier?.stop();
      await consumer.stop();
      await feedback?.stop();
      await (await staleEnds.catch(() => undefined))?.stop();
      await producer.disconnect();
      await client.connection.close();
    },
  };
}

if (isEntryPoint(import.meta.url)) runStandalone('decide', startDecide);
