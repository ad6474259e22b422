/**
 * Recorded workflow histories: a test's own run and the ones committed under test/fixtures/histories,
 * replayed with the current workflow code (a change that breaks an old history fails here).
 * `AUTOGLM_RECORD_HISTORIES=1` writes this run's histories that are not committed yet.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { HistoryAndWorkflowId, WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

/** A workflow's history as fetched from the server. */
export type FetchedHistory = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;

/** Histories are kept as protobuf bytes: the SDK's JSON helpers refuse the client's decoded objects. */
const History = proto.temporal.api.history.v1.History;

/** The committed history `file` of `dir`, decoded. */
export function readHistory(dir: string, file: string): proto.temporal.api.history.v1.History {
  return History.decode(fs.readFileSync(path.join(dir, file)));
}

/**
 * When recording (`AUTOGLM_RECORD_HISTORIES=1`), writes each of `histories` that `dir` does not
 * hold yet as `<name>.pb`: a committed history is what older code wrote, never replaced.
 */
export function recordMissing(
  dir: string,
  histories: ReadonlyMap<string, proto.temporal.api.history.v1.IHistory>,
): void {
  if (process.env.AUTOGLM_RECORD_HISTORIES !== '1') return;
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, history] of histories) {
    const file = path.join(dir, `${name}.pb`);
    if (!fs.existsSync(file)) fs.writeFileSync(file, History.encode(history).finish());
  }
}

/** Replays `histories` with the current workflow code; each replay error, named by its workflow id. */
export async function replayFailures(
  bundle: WorkflowBundleWithSourceMap,
  histories: Iterable<HistoryAndWorkflowId>,
): Promise<string[]> {
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: bundle }, histories))
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  return failures;
}

/**
 * Writes the missing ones of `histories` to `dir` when recording, then replays this run's and the
 * committed ones (`*.pb` in `dir`). Returns the committed file names (sorted) and each replay error.
 */
export async function replayWithCommitted(
  bundle: WorkflowBundleWithSourceMap,
  dir: string,
  histories: ReadonlyMap<string, FetchedHistory>,
): Promise<{ committed: string[]; failures: string[] }> {
  recordMissing(dir, histories);
  const committed = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.pb'))
    .sort();
  const failures = await replayFailures(bundle, [
    ...[...histories].map(([name, history]) => ({ workflowId: `${name} (this run)`, history })),
    ...committed.map((f) => ({ workflowId: `committed/${f}`, history: readHistory(dir, f) })),
  ]);
  return { committed, failures };
}
