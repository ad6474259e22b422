/**
 * Recorded workflow histories: a test's own run and the ones committed under test/fixtures/histories,
 * replayed with the current workflow code (a change that breaks an old history fails here).
 * `AUTOGLM_RECORD_HISTORIES=1` writes this run's histories that are not committed yet.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

/** A workflow's history as fetched from the server. */
export type FetchedHistory = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;

const History = proto.temporal.api.history.v1.History;

/**
 * Writes the missing ones of `histories` to `dir` when recording, then replays this run's and the
 * committed ones (`*.pb` in `dir`). Returns the committed file names (sorted) and each replay error.
 */
export async function replayWithCommitted(
  bundle: WorkflowBundleWithSourceMap,
  dir: string,
  histories: ReadonlyMap<string, FetchedHistory>,
): Promise<{ committed: string[]; failures: string[] }> {
  if (process.env.AUTOGLM_RECORD_HISTORIES === '1') {
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, history] of histories) {
      const file = path.join(dir, `${name}.pb`);
      if (!fs.existsSync(file)) fs.writeFileSync(file, History.encode(history).finish());
    }
  }
  const committed = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.pb'))
    .sort();
  const all = [
    ...[...histories].map(([name, history]) => ({ workflowId: `${name} (this run)`, history })),
    ...committed.map((f) => ({
      workflowId: `committed/${f}`,
      history: History.decode(fs.readFileSync(path.join(dir, f))),
    })),
  ];
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: bundle }, all))
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  return { committed, failures };
}
