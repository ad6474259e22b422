import { actuatorsFromConfig } from '../actuators/from-config.js';
import { topicNames } from '../common/config.js';
import { DeadLetters } from '../common/dead-letters.js';
import { connectProducer, createKafka, ensureTopics, runConsumer } from '../common/kafka.js';
import { isEntryPoint, runStandalone, type Service, type ServiceContext } from '../common/service.js';
import { connectClient } from '../common/temporal.js';
import { DecideHandler } from './decide-handler.js';
import { Decider } from './decider.js';
import { checkRules } from './rule-check.js';
import { loadRuleDir, RuleLoadError } from './rule-file.js';
import { RemediationStarter } from './workflow-starter.js';

/** Wires the decide step: observations in, rules evaluated, decisions out, workflows started. */
export async function startDecide({
  config,
  logger: root,
  registry,
  onFatal,
}: ServiceContext): Promise<Service> {
  const logger = root.child({ service: 'decide' });
  // A rule whose actuator this deployment may not call (URL outside the allowlist, command outside
  // the command directory) is refused here, at load, and again by the act worker before each call.
  const actuators = actuatorsFromConfig(config);
  const rules = loadRuleDir(config.rulesDir, { checkActuator: (ref) => actuators.check(ref) });
  // Unknown facts and operators would fail every decision at run time: refuse them at start.
  const problems = await checkRules(rules);
  if (problems.length > 0) throw new RuleLoadError(problems);
  logger.info({ rules: rules.map((r) => `${r.name}@${r.version}`), dir: config.rulesDir }, 'rules loaded');
  const topics = topicNames(config);
  const kafka = createKafka(config, logger);
  await ensureTopics(kafka, Object.values(topics), config.topicPartitions);
  const producer = await connectProducer(kafka);
  const client = await connectClient(config);
  const handler = new DecideHandler({
    decider: new Decider(rules, { maxDecisionAgeMs: config.maxDecisionAge }),
    starter: new RemediationStarter(client, config),
    producer,
    decisionsTopic: topics.decisions,
    deadLetters: new DeadLetters(producer, topics.dlq, 'decide', registry, logger, config.dlqMaxValueBytes),
    maxClockSkewMs: config.maxClockSkew,
    maxStartFailures: config.maxStartFailures,
    logger,
    registry,
  });
  const consumer = await runConsumer({
    kafka,
    groupId: `${config.groupPrefix}-decide`,
    topics: [topics.observations],
    fromBeginning: true,
    logger,
    eachMessage: (payload) => handler.handle(payload),
    ...(onFatal ? { onFatal } : {}),
  });
  return {
    name: 'decide',
    readiness: () => ({ 'decide.consumer': consumer.joined(), 'decide.temporal': handler.startsHealthy() }),
    liveness: () => ({ 'decide.consumer': consumer.alive() }),
    async stop() {
      await consumer.stop();
      await producer.disconnect();
      await client.connection.close();
    },
  };
}

if (isEntryPoint(import.meta.url)) runStandalone('decide', startDecide);
