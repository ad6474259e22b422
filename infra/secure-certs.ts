import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PrerequisiteError, ProvisionError } from './errors.js';
import { privateDir } from './paths.js';
import { which } from './process.js';

/** The files of a test PKI: a CA, a server certificate for 127.0.0.1/localhost, a client certificate. */
export interface TestPki {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** The server's key and certificate as PKCS#12 (for the Java broker), protected by `keystorePasswordFile`. */
  readonly serverKeystore: string;
  readonly keystorePasswordFile: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

/** The paths `makeTestPki(dir)` writes, whether or not they exist yet. */
export function testPkiPaths(dir: string): TestPki {
  const f = (name: string) => path.join(dir, name);
  return {
    dir,
    caCert: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server-key.pem'),
    serverKeystore: f('server.p12'),
    keystorePasswordFile: f('keystore-password'),
    clientCert: f('client.pem'),
    clientKey: f('client-key.pem'),
  };
}

function openssl(args: string[], cwd: string): void {
  const exe = which('openssl');
  if (!exe) throw new PrerequisiteError('openssl', 'Install OpenSSL (Debian: apt-get install openssl).');
  const r = spawnSync(exe, args, { cwd, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0)
    throw new ProvisionError(
      'certificates',
      `openssl ${args[0]} failed: ${(r.stderr || '').trim().split('\n')[0]}`,
    );
}

/**
 * Makes a fresh CA and, signed by it, a server certificate (127.0.0.1 and localhost, usable as
 * server and client: the broker dials itself) and a client certificate (CN `clientName`), with
 * `openssl` only; keys are P-256, valid `days` days, files 0600 in a 0700 folder. Kept when present.
 */
export function makeTestPki(dir: string, opts: { clientName?: string; days?: number } = {}): TestPki {
  const pki = testPkiPaths(dir);
  if (Object.values(pki).every((p) => fs.existsSync(p))) return pki;
  privateDir(dir);
  const days = String(opts.days ?? 30);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca-key.pem',
      '-out',
      'ca.pem',
      '-days',
      days,
      '-subj',
      '/CN=autoglm test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  const sign = (name: string, cn: string, ext: string) => {
    openssl(['req', ...ec, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca-key.pem',
        '-CAcreateserial',
        '-out',
        `${name}.pem`,
        '-days',
        days,
        '-extfile',
        `${name}.ext`,
      ],
      dir,
    );
    fs.rmSync(path.join(dir, `${name}.csr`));
    fs.rmSync(path.join(dir, `${name}.ext`));
  };
  sign(
    'server',
    'localhost',
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature\n',
  );
  sign(
    'client',
    opts.clientName ?? 'autoglm-client',
    'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n',
  );
  fs.writeFileSync(pki.keystorePasswordFile, crypto.randomBytes(18).toString('base64url'), { mode: 0o600 });
  openssl(
    [
      'pkcs12',
      '-export',
      '-in',
      'server.pem',
      '-inkey',
      'server-key.pem',
      '-name',
      'server',
      '-out',
      'server.p12',
      '-passout',
      `file:${pki.keystorePasswordFile}`,
    ],
    dir,
  );
  for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o600);
  return pki;
}

/** Makes (once) a file holding a random password, readable by this user only; returns its path. */
export function passwordFile(file: string): string {
  if (!fs.existsSync(file)) {
    privateDir(path.dirname(file));
    fs.writeFileSync(file, crypto.randomBytes(18).toString('base64url'), { mode: 0o600 });
  }
  return file;
}
