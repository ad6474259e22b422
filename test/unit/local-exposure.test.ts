/**
 * What the local infra and `autoglm up` leave open to other users and machines: containers publish
 * on 127.0.0.1, component data folders and the HMAC key are this user's only, even when they existed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { GenericContainer } from 'testcontainers';
import { localHmacKeyFile } from '../../cli/up.js';
import { publishOnLoopback } from '../../infra/containers.js';
import { privateDir } from '../../infra/paths.js';

const mode = (file: string) => fs.statSync(file).mode & 0o777;

describe('local exposure', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-exposure-'));
  after(() => fs.rmSync(home, { recursive: true, force: true }));

  it('publishes every container port the way testcontainers binds it on 127.0.0.1 only', () => {
    const container = new GenericContainer('scratch').withExposedPorts(
      { container: 9092, host: 19092 },
      7233,
    );
    const hostConfig = (container as unknown as { hostConfig: Parameters<typeof publishOnLoopback>[0] })
      .hostConfig;
    publishOnLoopback(hostConfig);
    assert.deepEqual(hostConfig.PortBindings, {
      '9092/tcp': [{ HostPort: '19092', HostIp: '127.0.0.1' }],
      '7233/tcp': [{ HostPort: '0', HostIp: '127.0.0.1' }],
    });
  });

  it('makes a component data folder private, also one that existed open', () => {
    const dir = path.join(home, 'data', 'temporal');
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    privateDir(dir);
    assert.equal(mode(dir), 0o700);
    const fresh = path.join(home, 'data', 'kafka');
    privateDir(fresh);
    assert.equal(mode(fresh), 0o700);
  });

  it('makes the local HMAC key private, also a reused one that was readable by others', () => {
    const file = localHmacKeyFile(home);
    assert.equal(mode(file), 0o600);
    assert.match(fs.readFileSync(file, 'utf8'), /^[0-9a-f]{64}$/);
    const key = fs.readFileSync(file, 'utf8');
    fs.chmodSync(file, 0o644);
    fs.chmodSync(path.dirname(file), 0o755);
    assert.equal(localHmacKeyFile(home), file);
    assert.equal(fs.readFileSync(file, 'utf8'), key, 'the key is reused, not replaced');
    assert.equal(mode(file), 0o600);
    assert.equal(mode(path.dirname(file)), 0o700);
  });
});
