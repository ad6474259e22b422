/**
 * The registry of ingest's sources: one file per source beside this one, one line here. A source's
 * name is also its tokens file (`<name>.tokens`) and mapping file (`<name>.json`).
 */
import type { IngestSource } from '../source.js';
import { alertmanagerSource } from './alertmanager.js';
import { cloudEventsSource } from './cloudevents.js';
import { createOtlpMetricsSource } from './otlp-metrics.js';
import { remoteWriteSource } from './remote-write.js';

/** Every source ingest serves, each on its own path. */
export const SOURCES: readonly IngestSource[] = [
  remoteWriteSource,
  createOtlpMetricsSource(),
  cloudEventsSource,
  alertmanagerSource(),
];
