import type { Logger } from './logger.js';

/** Something started that must be stopped cleanly. */
export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * On the first SIGTERM or SIGINT, stops `target` (finishing in-flight work) and exits 0;
 * a second signal, or `graceMs` passing, exits 1 at once.
 */
export function stopOnSignals(target: Stoppable, logger: Logger, graceMs = 30_000): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping');
    const timer = setTimeout(() => {
      logger.error({ graceMs }, 'graceful stop timed out: exiting');
      process.exit(1);
    }, graceMs);
    timer.unref();
    target.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** Runs `main`, printing a start-up failure (config problems, missing infra) without a stack trace. */
export function runMain(main: () => Promise<void>, logger?: Logger): void {
  main().catch((err: unknown) => {
    const error = err as Error;
    if (logger) logger.fatal({ err: error }, error.message);
    else process.stderr.write(`${error.name === 'Error' ? '' : `${error.name}: `}${error.message}\n`);
    process.exit(1);
  });
}
