// First: kafkajs must load with our read_committed filter (services/common/kafkajs-aborted-filter.ts).
import '../services/common/kafkajs-aborted-filter.js';
import { backtestCommand } from './backtest-command.js';
import { runDemo } from './demo.js';
import { infraCommand } from './infra-commands.js';
import { modelCommand } from './model-commands.js';
import { recordCommand } from './record-command.js';
import { approvalCommand, statusCommand } from './remediation-commands.js';
import { rulesCommand } from './rules-commands.js';
import { runbooksCommand } from './runbooks-command.js';
import { scenariosCommand } from './scenarios-command.js';
import { runUp } from './up.js';

const USAGE = `usage: autoglm <command>

  up [--services 5] [--pods 2] [--scenarios mix] [--every 45s] [--duration 10m] [--seed N] [--with prometheus]
                          the whole loop locally (starts Kafka and Temporal if needed)
                          against a simulated fleet with injected incidents, shown live;
                          --with prometheus: fed by Prometheus and Alertmanager through ingest
  demo [class]            ask the fleet of a running 'up' for one incident and time it
  scenarios [--rules-only-timeout 150]
                          every incident class against the real loop and a simulated fleet,
                          with the classifier and rules only: right, wrong, missed, false
                          positives and time to verdict per class (about 5 minutes)
  backtest <recording…> [--labels windows.json] [--baseline rules] [--json]
                          replay recorded samples and events through sense and decide's
                          own code on event time: decisions, guards, NAB scores
  record --from <time> [--to <time>] --out <file>
                          write the metrics and events topics' records of a time range
                          as JSON lines: a recording for 'backtest'
  rules check [paths…]    check rule files as decide does at start (facts, operators, actuators, …)
  rules test [folder]     run the rule tests (*.test.json) through the real decide core
  rules explain <observation.json> [--rules folder] [--live]
                          every rule's conditions on one observation, and what would hold it back
  rules draft "<sentence>" [--explain] [--force] [--file f] [--score f] [--train]
                          a rule file and its rule tests from an English or Chinese sentence;
                          what is missing or ambiguous is asked back, never guessed
  runbooks search "<text>" [--class X] [--rule R] [--feature F …]
                          the runbook sections (BM25) that fit an incident: title, score, link
  runbooks check          every runbook's front matter (file, line and fix of each problem)
  model generate|train|evaluate|inspect|monitor|dataset …
                          the incident classifier: generate scenario data, train the GLM to
                          ONNX, evaluate (macro AUC, F1, calibration), explain weights, drift
  status [<workflowId|entity>] [--json]
                          a remediation's live phase and why it waits, or an entity's
                          remediations, its guard (in flight, cooldowns) and the fleet budget;
                          alone: the budget's waiting queue by lane and service
  approve <workflowId> --reason "…" [--by who]
  reject <workflowId> --reason "…" [--by who]
                          answer a remediation that waits for approval
  infra up [--with prometheus]
                          provision and start Kafka and Temporal as local processes
                          (and Prometheus and Alertmanager from their Debian packages)
  infra down              stop what 'infra up' started
  infra status [--json]   per component: running or not, endpoint, version, log path
  infra logs [name] [-f]  show (or follow) the infra logs

Each service also runs alone: npx tsx services/<sense|decide|act|verify>/main.ts
Environment: KAFKA_BROKERS and TEMPORAL_ADDRESS point at existing servers instead.`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'infra':
      return infraCommand(rest);
    case 'up':
      await runUp(rest);
      return -1; // keeps running until SIGTERM
    case 'demo':
      return runDemo(rest);
    case 'scenarios':
      return scenariosCommand(rest);
    case 'status':
      return statusCommand(rest);
    case 'rules':
      return rulesCommand(rest);
    case 'runbooks':
      return runbooksCommand(rest);
    case 'backtest':
      return backtestCommand(rest);
    case 'record':
      return recordCommand(rest);
    case 'model':
      return modelCommand(rest, {
        out: (t) => process.stdout.write(`${t}\n`),
        err: (t) => process.stderr.write(`${t}\n`),
      });
    case 'approve':
    case 'reject':
      return approvalCommand(command === 'approve', rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command "${command}"\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    const error = err instanceof Error ? err : new Error(String(err));
    const known = [
      'PrerequisiteError',
      'ProvisionError',
      'HealthTimeoutError',
      'UnreachableError',
      'ConfigError',
      'RuleLoadError',
      'ModelConfigError',
      'DatasetError',
      'ModelLoadError',
      'UsageError',
      'RecordingError',
      'LabelsError',
      'WorkflowUpdateFailedError',
      'WorkflowNotFoundError',
      'KafkaAccessError',
      'TemporalAccessError',
    ];
    // node:util parseArgs's refusals (an unknown option, a missing value) are usage mistakes of
    // every command: its message names the option, and the usage says what there is.
    if (String((err as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS_')) {
      process.stderr.write(`autoglm: ${error.message}\n${USAGE}\n`);
      process.exit(2);
    }
    process.stderr.write(
      `autoglm: ${known.includes(error.name) ? error.message : (error.stack ?? error.message)}\n`,
    );
    process.exit(1);
  },
);
