#!/usr/bin/env node
// The `autoglm` command: runs the TypeScript CLI through tsx's loader (no build step).
import { register } from 'tsx/esm/api';

register();
// Before anything loads kafkajs: its read_committed filter is replaced (services/common/kafkajs-aborted-filter.ts).
await import('../services/common/kafkajs-aborted-filter.ts');
await import('../cli/main.ts');
