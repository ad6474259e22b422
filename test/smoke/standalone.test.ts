import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { repoRoot } from '../../infra/paths.js';
import { createKafka } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import { testConfig, unique } from '../support/config.js';
import { deleteTopicsWithPrefix } from '../support/kafka.js';

/** Every process started here: one still running at the end (a failed assertion) is killed. */
const children: ChildProcess[] = [];

/** Starts `services/<name>/main.ts` as its own process and collects its JSON log lines. */
function startService(name: string, env: NodeJS.ProcessEnv) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'services', name, 'main.ts')],
    {
      env: { ...process.env, AUTOGLM_LOG_FORMAT: 'json', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return { child, logs, stderr: () => stderr };
}

async function exitOf(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return code;
}

describe('a service run as its own process', () => {
  const id = unique('standalone');
  after(async () => {
    const running = children.filter((c) => c.exitCode === null && c.signalCode === null);
    for (const c of running) c.kill('SIGKILL');
    await Promise.all(running.map((c) => once(c, 'exit')));
    const config = testConfig({ topicPrefix: `${id}.autoglm` });
    await deleteTopicsWithPrefix(createKafka(config, createLogger('warn')), config.topicPrefix);
  });

  it('serves health, readiness and metrics, and stops cleanly on SIGTERM', async () => {
    const { child, logs } = startService('sense', {
      AUTOGLM_TOPIC_PREFIX: `${id}.autoglm`,
      AUTOGLM_GROUP_PREFIX: id,
      AUTOGLM_OPS_PORT: '0',
      LOG_LEVEL: 'info',
    });
    const deadline = Date.now() + 60_000;
    let port: number | undefined;
    while (port === undefined && Date.now() < deadline && child.exitCode === null) {
      port = logs.find((l) => typeof l.opsPort === 'number')?.opsPort as number | undefined;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(port, `the service announces its ops port (logs: ${JSON.stringify(logs)})`);
    const base = `http://127.0.0.1:${port}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const ready = (await (await fetch(`${base}/readyz`)).json()) as {
      ready: boolean;
      checks: Record<string, boolean>;
    };
    assert.deepEqual(ready, { ready: true, checks: { 'sense.consumer': true } });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /# TYPE autoglm_sense_messages_total counter/);
    assert.match(metrics, /process_resident_memory_bytes/);

    child.kill('SIGTERM');
    assert.equal(await exitOf(child, 30_000), 0);
    assert.ok(
      logs.some((l) => l.msg === 'stopped'),
      'logs that it stopped',
    );
  });

  it('refuses to start on bad configuration, listing every problem', async () => {
    const { child, stderr } = startService('decide', {
      KAFKA_BROKERS: 'no-port',
      AUTOGLM_EMIT_EVERY: 'often',
      AUTOGLM_OPS_PORT: '70000',
    });
    assert.equal(await exitOf(child, 30_000), 1);
    const text = stderr();
    assert.match(text, /invalid configuration/);
    assert.match(text, /KAFKA_BROKERS="no-port": each broker must be host:port/);
    assert.match(text, /AUTOGLM_EMIT_EVERY="often": must be a duration/);
    assert.match(text, /AUTOGLM_OPS_PORT="70000"/);
  });
});
