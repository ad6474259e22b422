/**
 * What the console keeps in memory for a large fleet: 10,000 entities × 6 h of observations of 8
 * metrics each (value, baseline, spread), at the default 360 points per entity and metric, plus the
 * time the front page's API takes to answer with that state and the page's first load in Debian's
 * chromium (when installed) served from that state.
 *
 *   npx tsx --expose-gc bench/console-memory.ts [entities=10000] [hours=6] [everySeconds=30]
 *
 * Observations arrive every `everySeconds` per entity (a point holds the sample furthest from the
 * normal, so the state is the same size at any rate; 30 s keeps the bench short).
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { consoleApi } from '../services/console/console-api.js';
import { consoleHandler } from '../services/console/console-server.js';
import { ConsoleState } from '../services/console/console-state.js';

const METRICS = ['cpu', 'mem', 'latency', 'errors', 'disk', 'restarts', 'replicas', 'upstream_errors'];

/** A console state filled with `entities` × `rangeMs` of synthetic observations, one per `everyMs`. */
export function syntheticState(entities: number, rangeMs: number, everyMs = 30_000): ConsoleState {
  const state = new ConsoleState(
    { rangeMs, points: 360, maxEntities: entities },
    { workflowUrl: (id) => `http://127.0.0.1:8233/namespaces/default/workflows/${encodeURIComponent(id)}` },
  );
  const end = Date.now();
  const names = Array.from({ length: entities }, (_, e) => `svc-${e % 100}/pod-${e}`);
  for (let t = end - rangeMs + everyMs; t <= end; t += everyMs) {
    for (let e = 0; e < entities; e++) {
      const entity = names[e]!;
      for (let m = 0; m < METRICS.length; m++) {
        const baseline = 20 + m * 5 + (e % 7);
        const value = baseline + Math.sin(t / 600_000 + e) * 2 + (e === 7 && t > end - 600_000 ? 60 : 0);
        state.series.record(entity, METRICS[m]!, t, value, baseline, 1.5);
      }
    }
  }
  return state;
}

/** Serves the console's pages and API over a state (no Kafka, no Temporal) on a free port. */
export async function serveConsoleState(
  state: ConsoleState,
): Promise<{ port: number; close: () => Promise<void> }> {
  const { handle, closeStreams } = consoleHandler({
    maxBodyBytes: 16_384,
    maxStreams: 8,
    onError: () => undefined,
    subscribe: (l) => {
      state.listeners.add(l);
      return () => state.listeners.delete(l);
    },
    api: consoleApi(state, {
      approvals: false,
      temporalUi: undefined,
      anomalyDeviation: 4.5,
      budget: () => undefined,
      entityGuard: () => Promise.resolve(null),
    }),
    approve: () => Promise.resolve({ status: 403, body: { error: 'read-only' } }),
  });
  const server = http.createServer((req, res) => {
    if (!handle(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      closeStreams();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function main(): Promise<void> {
  const [entities = 10_000, hours = 6, everySeconds = 30] = process.argv
    .slice(2)
    .filter((a) => !a.startsWith('--'))
    .map(Number);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const used = () => {
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const before = used();
  const started = Date.now();
  const state = syntheticState(entities, hours * 3_600_000, everySeconds * 1000);
  const fillMs = Date.now() - started;
  const bytes = used() - before;
  const observations = entities * Math.floor((hours * 3600) / everySeconds);
  console.log(
    `console state: ${entities} entities × ${hours} h × ${METRICS.length} metrics (${observations} observations in ${fillMs} ms): ${(bytes / 1e6).toFixed(1)} MB (heap + array buffers; target ≤ 200 MB)`,
  );
  const api = consoleApi(state, {
    approvals: false,
    temporalUi: undefined,
    anomalyDeviation: 4.5,
    budget: () => undefined,
    entityGuard: () => Promise.resolve(null),
  });
  const t0 = performance.now();
  const overview = JSON.stringify(api.overview!(new URLSearchParams()));
  const t1 = performance.now();
  const entity = JSON.stringify(await api.entity!(new URLSearchParams({ id: 'svc-7/pod-7' })));
  const t2 = performance.now();
  console.log(
    `front page API: ${(t1 - t0).toFixed(0)} ms (${overview.length} bytes); an entity's 6 h chart: ${(t2 - t1).toFixed(0)} ms (${entity.length} bytes)`,
  );
  await firstLoad(state);
}

/** The front page's first load in Debian's chromium (playwright-core), from navigation to the first API answer drawn. */
async function firstLoad(state: ConsoleState): Promise<void> {
  const executablePath = process.env.AUTOGLM_CHROMIUM ?? '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) {
    console.log(`first load: skipped, no chromium at ${executablePath} (apt-get install chromium)`);
    return;
  }
  const { chromium } = await import('playwright-core');
  const served = await serveConsoleState(state);
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  try {
    const times: string[] = [];
    for (let i = 0; i < 3; i++) {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${served.port}/`);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
      times.push(`${await page.getAttribute('body', 'data-loaded-ms')} ms`);
      await page.close();
    }
    console.log(
      `first load of the front page with that state (navigation → first API answer drawn; a new page each, the first one cold): ${times.join(', ')} (target < 1000 ms)`,
    );
  } finally {
    await browser.close();
    await served.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
