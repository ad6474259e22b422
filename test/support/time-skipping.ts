/**
 * Temporal's time-skipping test environment, offline: the test server executable comes from
 * `ensureTestServer` (TEMPORAL_TEST_SERVER_PATH, which `test/run.ts` exports, or a pip install
 * under the autoglm home), never from the SDK's download.
 *
 * The test server rejects an upsert of a search attribute it does not know ("search attribute X
 * is not defined", the workflow task then fails and retries forever), and `createTimeSkipping`
 * has no `searchAttributes` option. It does implement `OperatorService.addSearchAttributes` (but
 * not `listSearchAttributes`), so the attributes are registered through that once it is up.
 */
import { SearchAttributeType, type defineSearchAttributeKey } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ensureTestServer } from '../../infra/test-server.js';
import { installTemporalRuntime } from '../../services/common/temporal.js';
import { createLogger } from '../../services/common/logger.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../../workflows/definitions.js';

/** A search attribute key (the SDK does not export its `SearchAttributeKey` type from the index). */
export type AnySearchAttributeKey = ReturnType<typeof defineSearchAttributeKey>;

/** The custom search attributes the project's workflows set (all Keyword). */
export const PROJECT_SEARCH_ATTRIBUTES: readonly AnySearchAttributeKey[] = SEARCH_ATTRIBUTE_KEYS;

/** temporal.api.enums.v1.IndexedValueType, by SDK search attribute type. */
const INDEXED_VALUE_TYPE: Record<SearchAttributeType, number> = {
  [SearchAttributeType.TEXT]: 1,
  [SearchAttributeType.KEYWORD]: 2,
  [SearchAttributeType.INT]: 3,
  [SearchAttributeType.DOUBLE]: 4,
  [SearchAttributeType.BOOL]: 5,
  [SearchAttributeType.DATETIME]: 6,
  [SearchAttributeType.KEYWORD_LIST]: 7,
};

export interface TimeSkippingEnvOptions {
  /** Search attributes to register; default the project's (`PROJECT_SEARCH_ATTRIBUTES`). */
  readonly searchAttributes?: readonly AnySearchAttributeKey[];
}

/** Environments not torn down yet, stopped if the test runner kills this file (see below). */
const live = new Set<TestWorkflowEnvironment>();
let signalHandlersInstalled = false;

/**
 * When a file runs past `--test-timeout` (or on Ctrl-C), node:test ends its process with SIGTERM
 * (SIGINT). The test server is a child process the SDK's native core started; dying on the
 * default signal action would orphan it. Stop the live servers first, then exit as the signal would.
 */
function stopServersOnSignals(): void {
  if (signalHandlersInstalled) return;
  signalHandlersInstalled = true;
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    process.once(signal, () => {
      const stopping = Promise.allSettled([...live].map((env) => env.teardown()));
      const deadline = new Promise((resolve) => setTimeout(resolve, 5_000).unref());
      void Promise.race([stopping, deadline]).then(() => process.exit(code));
    });
  }
}

/**
 * Starts a time-skipping test server (its own process on a free port) and returns the SDK's
 * environment for it, with the search attributes registered in namespace `default`.
 * Call `env.teardown()` when done (it stops the server).
 */
export async function createTimeSkippingEnv(
  opts: TimeSkippingEnvOptions = {},
): Promise<TestWorkflowEnvironment> {
  installTemporalRuntime(createLogger(process.env.LOG_LEVEL ?? 'warn'));
  const path = await ensureTestServer();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path } },
  });
  stopServersOnSignals();
  live.add(env);
  const teardown = env.teardown.bind(env);
  env.teardown = () => {
    live.delete(env);
    return teardown();
  };
  const searchAttributes = opts.searchAttributes ?? PROJECT_SEARCH_ATTRIBUTES;
  if (searchAttributes.length > 0) {
    try {
      await env.connection.operatorService.addSearchAttributes({
        namespace: env.namespace ?? 'default',
        searchAttributes: Object.fromEntries(
          searchAttributes.map(({ name, type }) => [name, INDEXED_VALUE_TYPE[type]]),
        ),
      });
    } catch (err) {
      await env.teardown();
      throw err;
    }
  }
  return env;
}
