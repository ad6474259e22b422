/**
 * The act step's files named by config (services/actuators/from-config.ts): every problem of the
 * headers file, the HMAC key file and the command folder in one ConfigError, and the act start
 * lists them with the approvers file's (collectProblems) before anything connects.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { actuatorsFromConfig } from '../../services/actuators/from-config.js';
import { loadApprovers } from '../../services/common/approvers.js';
import { collectProblems, ConfigError, loadConfig } from '../../services/common/config.js';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'actuators-config-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text, { mode: 0o600 });
  return p;
};

describe('actuatorsFromConfig', () => {
  it("lists the headers file's origins and headers with the other files' problems, never a header value", () => {
    const headers = write(
      'headers.json',
      JSON.stringify({
        'ftp://files.example.com': { authorization: 'Bearer s3cret' },
        'https://ops.example.com/api': { authorization: 'Bearer s3cret' },
        'http://127.0.0.1:8090': { authorization: 'Bearer s3cret\nx-evil: 1', 'bad header': 'x' },
      }),
    );
    const key = write('hmac.key', 'short\n');
    const missing = path.join(dir, 'no-such-dir');
    const config = loadConfig({
      AUTOGLM_HTTP_HEADERS_FILE: headers,
      AUTOGLM_ACTUATOR_HMAC_KEY_FILE: key,
      AUTOGLM_COMMAND_DIR: missing,
    });
    const at = `AUTOGLM_HTTP_HEADERS_FILE=${headers}`;
    const fix = 'write an origin such as https://ops.example.com or http://127.0.0.1:8090';
    assert.throws(
      () => actuatorsFromConfig(config),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [
          `${at}: origin "ftp://files.example.com/" has scheme ftp: (only http: and https:): ${fix}`,
          `${at}: origin "https://ops.example.com/api" has a path, query or fragment: ${fix}`,
          `${at}: header "authorization" for http://127.0.0.1:8090 is not a valid header: write a header name and a value on one line`,
          `${at}: header "bad header" for http://127.0.0.1:8090 is not a valid header: write a header name and a value on one line`,
          `AUTOGLM_ACTUATOR_HMAC_KEY_FILE=${key}: the key must be at least 16 bytes (for example: openssl rand -hex 32)`,
          `AUTOGLM_COMMAND_DIR=${missing}: not a directory; set it to the folder that holds the allowlisted command actuators, or leave it empty to run no commands`,
        ]);
        assert.doesNotMatch(err.message, /s3cret/);
        return true;
      },
    );
  });

  it("collectProblems gathers the actuators' and the approvers file's problems, and throws on other errors", () => {
    const approvers = write('approvers.json', JSON.stringify({ approvers: [{ name: 'dan' }] }));
    const config = loadConfig({ AUTOGLM_COMMAND_DIR: path.join(dir, 'absent') });
    const problems: string[] = [];
    assert.equal(
      collectProblems(problems, () => actuatorsFromConfig(config)),
      undefined,
    );
    assert.equal(
      collectProblems(problems, () => loadApprovers(approvers)),
      undefined,
    );
    assert.deepEqual(problems, [
      `AUTOGLM_COMMAND_DIR=${path.join(dir, 'absent')}: not a directory; set it to the folder that holds the allowlisted command actuators, or leave it empty to run no commands`,
      `AUTOGLM_APPROVERS_FILE ${approvers}: approvers[0] (dan): give exactly one of "keyFile" (an HMAC secret) or "publicKeyFile" (Ed25519)`,
    ]);
    assert.equal(
      collectProblems(problems, () => 7),
      7,
    );
    assert.throws(
      () =>
        collectProblems(problems, () => {
          throw new TypeError('not a config problem');
        }),
      TypeError,
    );
    assert.equal(problems.length, 2);
  });
});
