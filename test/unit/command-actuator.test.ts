import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ActuationRefusedError,
  createActuatorRegistry,
  type ActuationRequest,
} from '../../services/actuators/actuator.js';
import { commandActuator, type CommandActuatorOptions } from '../../services/actuators/command.js';

let root: string;
let dir: string;
let outside: string;

/** Writes an executable shell script (mode 755). */
function script(file: string, body: string): void {
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
}

function request(command: string, args: string[] = []): ActuationRequest {
  return {
    idempotencyKey: 'idem-1',
    decisionId: 'dec-1',
    entity: 'web-1',
    action: 'restart',
    args: { ignored: true },
    actuator: { type: 'command', command, args },
  };
}

const options = (extra: Partial<CommandActuatorOptions> = {}): CommandActuatorOptions => ({
  dir,
  timeoutMs: 5000,
  maxOutputBytes: 1024,
  ...extra,
});

/** True when the process `pid` still runs (a zombie waiting for a reaper counts as dead). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // Linux: the state letter follows the parenthesised command name.
    return !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

describe('commandActuator', () => {
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-cmd-'));
    dir = path.join(root, 'allowed');
    outside = path.join(root, 'outside');
    fs.mkdirSync(dir);
    fs.mkdirSync(outside);
    script(
      path.join(dir, 'ok.sh'),
      'cat > "$0.stdin"; echo "args:$*"; echo "env:$AUTOGLM_IDEMPOTENCY_KEY $AUTOGLM_ACTION $AUTOGLM_ENTITY ' +
        '$AUTOGLM_DECISION_ID home=${HOME:-unset}"; echo warn >&2',
    );
    script(path.join(dir, 'tempfail.sh'), 'echo busy >&2; exit 75');
    script(path.join(dir, 'fail.sh'), 'echo broken half-way >&2; exit 3');
    // Writes its pid, then a child that outlives it unless the whole group is killed.
    script(path.join(dir, 'slow.sh'), 'sleep 30 & echo $! > "$0.child"; sleep 30');
    // Leave children behind, their output detached so nothing holds our pipes open.
    const quiet = '>/dev/null 2>&1 </dev/null &';
    script(path.join(dir, 'leaves-child.sh'), `sleep 30 ${quiet} echo $! > "$0.child"; echo done`);
    script(path.join(dir, 'escapes.sh'), `setsid sleep 30 ${quiet} echo $! > "$0.child"; echo done`);
    script(path.join(dir, 'escapes-slow.sh'), `setsid sleep 30 ${quiet} echo $! > "$0.child"; sleep 30`);
    script(path.join(dir, 'env.sh'), 'env | cut -d= -f1 | sort');
    script(
      path.join(dir, 'chatty.sh'),
      'head -c 1000000 /dev/zero | tr "\\0" x; head -c 500000 /dev/zero | tr "\\0" y >&2',
    );
    fs.writeFileSync(path.join(dir, 'plain.txt'), 'not executable', { mode: 0o644 });
    // Both would prove they ran by creating the marker file.
    script(path.join(outside, 'evil.sh'), `touch ${path.join(root, 'ran')}`);
    fs.symlinkSync(path.join(outside, 'evil.sh'), path.join(dir, 'link.sh'));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('runs an allowed script with args, the JSON body on stdin and only AUTOGLM_* env', async () => {
    const result = await commandActuator(options()).actuate(request('ok.sh', ['--replicas', '3 4']));
    assert.equal(result.actuator, 'command');
    assert.deepEqual(result.detail, {
      command: 'ok.sh',
      exitCode: 0,
      stdout: 'args:--replicas 3 4\nenv:idem-1 restart web-1 dec-1 home=unset\n',
      stderr: 'warn\n',
    });
    const stdin = JSON.parse(fs.readFileSync(path.join(dir, 'ok.sh.stdin'), 'utf8'));
    assert.deepEqual(stdin, {
      idempotencyKey: 'idem-1',
      decisionId: 'dec-1',
      entity: 'web-1',
      action: 'restart',
      args: ['--replicas', '3 4'],
    });
  });

  it('treats exit 75 as transient and exit 3 as a refusal', async () => {
    const actuator = commandActuator(options());
    await assert.rejects(actuator.actuate(request('tempfail.sh')), (err: Error) => {
      assert.ok(!(err instanceof ActuationRefusedError));
      assert.match(err.message, /exited 75.*busy/s);
      return true;
    });
    await assert.rejects(actuator.actuate(request('fail.sh')), (err: Error) => {
      assert.ok(err instanceof ActuationRefusedError);
      assert.equal(err.detail.exitCode, 3);
      assert.match(err.message, /exited 3: broken half-way/);
      return true;
    });
  });

  it('refuses ../ and symlink escapes at check and at actuate, never running them', async () => {
    const actuator = commandActuator(options());
    for (const command of ['../outside/evil.sh', 'link.sh']) {
      assert.match(
        actuator.check({ type: 'command', command, args: [] }).join(),
        /outside AUTOGLM_COMMAND_DIR/,
      );
      await assert.rejects(actuator.actuate(request(command)), ActuationRefusedError);
    }
    assert.equal(fs.existsSync(path.join(root, 'ran')), false, 'an escaping script ran');
  });

  it('refuses missing, non-executable and non-file commands', () => {
    const actuator = commandActuator(options());
    const check = (command: string) => actuator.check({ type: 'command', command, args: [] }).join();
    assert.match(check('nope.sh'), /does not exist/);
    assert.match(check('plain.txt'), /not executable/);
    assert.match(check('.'), /outside AUTOGLM_COMMAND_DIR/);
    assert.deepEqual(actuator.check({ type: 'command', command: 'ok.sh', args: [] }), []);
    assert.match(actuator.check({ type: 'http' }).join(), /cannot run a http/);
  });

  it('kills the whole process group on timeout and reports it as transient', async () => {
    const started = Date.now();
    await assert.rejects(
      commandActuator(options({ timeoutMs: 300 })).actuate(request('slow.sh')),
      (err: Error) => {
        assert.ok(!(err instanceof ActuationRefusedError));
        assert.match(err.message, /did not finish within 300 ms and was killed/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 3000);
    const grandchild = Number(fs.readFileSync(path.join(dir, 'slow.sh.child'), 'utf8'));
    // SIGKILL delivery is asynchronous; give the kernel a moment.
    for (let i = 0; i < 50 && alive(grandchild); i++) await new Promise((r) => setTimeout(r, 20));
    const survived = alive(grandchild);
    if (survived) process.kill(grandchild, 'SIGKILL'); // leave nothing behind when this fails
    assert.equal(survived, false, 'the background child survived');
  });

  /** Whether the pid a script wrote to `<script>.child` is still running, after giving SIGKILL a moment. */
  async function childSurvived(scriptName: string): Promise<boolean> {
    const pid = Number(fs.readFileSync(path.join(dir, `${scriptName}.child`), 'utf8'));
    assert.ok(pid > 1, `${scriptName} wrote no child pid`);
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    const survived = alive(pid);
    if (survived) process.kill(pid, 'SIGKILL'); // leave nothing behind when this fails
    return survived;
  }

  it('kills what a script left running in the background once it exits 0', async () => {
    const started = Date.now();
    const result = await commandActuator(options()).actuate(request('leaves-child.sh'));
    assert.equal(result.detail.stdout, 'done\n');
    assert.ok(Date.now() - started < 3000);
    assert.equal(await childSurvived('leaves-child.sh'), false, 'the background child survived');
  });

  it('kills a child that left the process group with setsid, after exit 0 and on timeout', async () => {
    const result = await commandActuator(options()).actuate(request('escapes.sh'));
    assert.equal(result.detail.exitCode, 0);
    assert.equal(await childSurvived('escapes.sh'), false, 'the setsid child survived exit 0');
    await assert.rejects(
      commandActuator(options({ timeoutMs: 300 })).actuate(request('escapes-slow.sh')),
      /did not finish within 300 ms/,
    );
    assert.equal(await childSurvived('escapes-slow.sh'), false, 'the setsid child survived the timeout');
  });

  it('gives the script exactly PATH, the AUTOGLM_* variables and its run marker', async () => {
    const result = await commandActuator(options()).actuate(request('env.sh'));
    // PWD is the shell's own; nothing else of the worker's environment is passed.
    assert.deepEqual(String(result.detail.stdout).trim().split('\n'), [
      'AUTOGLM_ACTION',
      'AUTOGLM_COMMAND_RUN',
      'AUTOGLM_DECISION_ID',
      'AUTOGLM_ENTITY',
      'AUTOGLM_IDEMPOTENCY_KEY',
      'PATH',
      'PWD',
    ]);
  });

  it('runs scripts as AUTOGLM_COMMAND_USER, who cannot read the worker’s environment', async () => {
    const open = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-cmd-user-'));
    try {
      fs.chmodSync(open, 0o755);
      script(
        path.join(open, 'peek.sh'),
        'cat /proc/$PPID/environ >/dev/null 2>&1 && echo readable || echo unreadable; id -u',
      );
      const other = commandActuator(options({ dir: open, runAs: { uid: 65534, gid: 65534 } }));
      if (process.getuid?.() === 0) {
        const result = await other.actuate(request('peek.sh'));
        assert.equal(result.detail.stdout, 'unreadable\n65534\n');
        // As the worker's own user it can: what the setting is for.
        const same = await commandActuator(options({ dir: open })).actuate(request('peek.sh'));
        assert.equal(same.detail.stdout, 'readable\n0\n');
      } else {
        // Only root may switch users: refused for good, saying so, rather than retried.
        await assert.rejects(other.actuate(request('peek.sh')), (err: Error) => {
          assert.ok(err instanceof ActuationRefusedError);
          assert.match(err.message, /EPERM.*AUTOGLM_COMMAND_USER needs the worker to run as root/);
          return true;
        });
      }
    } finally {
      fs.rmSync(open, { recursive: true, force: true });
    }
  });

  it('is disabled without a directory', async () => {
    const actuator = commandActuator(options({ dir: '' }));
    assert.match(
      actuator.check({ type: 'command', command: 'ok.sh', args: [] }).join(),
      /set AUTOGLM_COMMAND_DIR/,
    );
    await assert.rejects(actuator.actuate(request('ok.sh')), ActuationRefusedError);
  });

  it('keeps at most maxOutputBytes of stdout and stderr but drains the rest', async () => {
    const result = await commandActuator(options({ maxOutputBytes: 100 })).actuate(request('chatty.sh'));
    assert.equal(result.detail.stdout, 'x'.repeat(100));
    assert.equal(result.detail.stderr, 'y'.repeat(100));
  });
});

describe('createActuatorRegistry', () => {
  it('finds actuators by type and refuses an unconfigured type instead of crashing', () => {
    const command = commandActuator({ dir: '', timeoutMs: 1000, maxOutputBytes: 10 });
    const registry = createActuatorRegistry([command]);
    assert.deepEqual(registry.types, ['command']);
    assert.equal(registry.get('command'), command);
    assert.throws(() => registry.get('http'), ActuationRefusedError);
    assert.match(registry.check({ type: 'http' }).join(), /actuator type "http" is not configured/);
    // A configured but disabled actuator explains itself.
    assert.match(
      registry.check({ type: 'command', command: 'x', args: [] }).join(),
      /set AUTOGLM_COMMAND_DIR/,
    );
    assert.throws(() => createActuatorRegistry([command, command]), /two actuators/);
  });
});
