import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { TLSConfig } from '@temporalio/client';
import { errorCodes, fileProblem, isOn, readSecretFile, TLS_CODES } from './tls-files.js';

/** How clients reach Temporal: TLS files, server name and API key file. Paths only, never secrets. */
export interface TemporalSecurity {
  readonly tls: boolean;
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly serverName?: string;
  readonly apiKeyFile?: string;
}

/** The environment variables of Temporal security, named once for config, docs and `infra up --secure`. */
export const TEMPORAL_SECURITY_ENV = {
  tls: 'TEMPORAL_TLS',
  caFile: 'TEMPORAL_TLS_CA_FILE',
  certFile: 'TEMPORAL_TLS_CERT_FILE',
  keyFile: 'TEMPORAL_TLS_KEY_FILE',
  serverName: 'TEMPORAL_TLS_SERVER_NAME',
  apiKeyFile: 'TEMPORAL_API_KEY_FILE',
} as const;

/**
 * Reads Temporal security from `env`. TLS is on when TEMPORAL_TLS is true or any TLS file or an
 * API key file is named (TEMPORAL_TLS=false keeps an API key on plaintext, for a local proxy).
 */
export function parseTemporalSecurity(env: NodeJS.ProcessEnv): {
  security: TemporalSecurity;
  problems: string[];
} {
  const E = TEMPORAL_SECURITY_ENV;
  const get = (name: string) => env[name]?.trim() || undefined;
  const problems: string[] = [];
  const files = {
    caFile: get(E.caFile),
    certFile: get(E.certFile),
    keyFile: get(E.keyFile),
    apiKeyFile: get(E.apiKeyFile),
  };
  for (const [key, file] of Object.entries(files)) {
    if (file === undefined) continue;
    const problem = fileProblem(E[key as keyof typeof files], file);
    if (problem) problems.push(problem);
  }
  if ((files.certFile === undefined) !== (files.keyFile === undefined))
    problems.push(`${E.certFile} and ${E.keyFile} go together: name both (mTLS) or neither`);
  if (env.TEMPORAL_API_KEY !== undefined)
    problems.push(
      `TEMPORAL_API_KEY is not read (a variable's value leaks into process listings): put the key in a file readable only by this user and name it in ${E.apiKeyFile}`,
    );
  const tlsRaw = get(E.tls);
  const tlsKnown = tlsRaw === undefined || /^(?:1|0|true|false|yes|no|on|off)$/i.test(tlsRaw);
  if (!tlsKnown) problems.push(`${E.tls}=${JSON.stringify(tlsRaw)}: use true or false`);
  // A value that is neither is listed once, above, not again as "false" against the TLS files.
  const explicitOff = tlsKnown && tlsRaw !== undefined && !isOn(tlsRaw);
  const anyTlsFile = files.caFile !== undefined || files.certFile !== undefined;
  if (explicitOff && anyTlsFile)
    problems.push(`${E.tls}=false but TLS files are named: drop one or the other`);
  const useTls = !explicitOff && (isOn(tlsRaw) || anyTlsFile || files.apiKeyFile !== undefined);
  const serverName = get(E.serverName);
  const security: TemporalSecurity = Object.freeze({
    tls: useTls,
    ...Object.fromEntries(Object.entries(files).filter(([, v]) => v !== undefined)),
    ...(serverName ? { serverName } : {}),
  });
  return { security, problems };
}

/** No TLS, no API key: the default when nothing is set. */
export const TEMPORAL_PLAINTEXT: TemporalSecurity = Object.freeze({ tls: false });

/** The `tls` and `apiKey` options of a Temporal Connection or NativeConnection, the files read now. */
export function temporalConnectionOptions(sec: TemporalSecurity): { tls?: TLSConfig; apiKey?: string } {
  const out: { tls?: TLSConfig; apiKey?: string } = {};
  if (sec.tls) {
    out.tls = {
      ...(sec.caFile ? { serverRootCACertificate: fs.readFileSync(sec.caFile) } : {}),
      ...(sec.certFile && sec.keyFile
        ? { clientCertPair: { crt: fs.readFileSync(sec.certFile), key: fs.readFileSync(sec.keyFile) } }
        : {}),
      ...(sec.serverName ? { serverNameOverride: sec.serverName } : {}),
    };
  }
  if (sec.apiKeyFile) out.apiKey = readSecretFile(sec.apiKeyFile);
  return out;
}

/** `temporal 127.0.0.1:17233 namespace default (TLS, client certificate)`: what an error line names. */
export function describeTemporal(address: string, namespace: string, sec: TemporalSecurity): string {
  const how = [
    sec.tls ? 'TLS' : 'plaintext',
    sec.certFile ? 'client certificate' : '',
    sec.apiKeyFile ? 'API key' : '',
  ];
  return `temporal ${address} namespace ${namespace} (${how.filter(Boolean).join(', ')})`;
}

/** Temporal refused us for a reason retrying will not mend. */
export class TemporalAccessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemporalAccessError';
  }
}

const H2_PREFACE = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]), // an empty SETTINGS frame
]);

/**
 * Opens one connection as the SDK would (TLS with the same files, HTTP/2 preface) and waits for the
 * server's first bytes: throws a TemporalAccessError naming the fix when the TLS layer refuses us,
 * resolves otherwise (a refused connection is left to the SDK's own error).
 */
export async function checkTemporalTransport(
  address: string,
  namespace: string,
  sec: TemporalSecurity,
  timeoutMs = 5000,
): Promise<void> {
  const E = TEMPORAL_SECURITY_ENV;
  const where = describeTemporal(address, namespace, sec);
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i);
  const port = Number(address.slice(i + 1));
  const result = await new Promise<{ data?: Buffer; error?: unknown; closed?: boolean }>((resolve) => {
    let socket: net.Socket;
    if (sec.tls) {
      const servername = sec.serverName ?? (net.isIP(host) ? undefined : host);
      socket = tls.connect({
        host,
        port,
        ALPNProtocols: ['h2'],
        ...(servername ? { servername } : {}),
        ...(sec.caFile ? { ca: fs.readFileSync(sec.caFile) } : {}),
        ...(sec.certFile && sec.keyFile
          ? { cert: fs.readFileSync(sec.certFile), key: fs.readFileSync(sec.keyFile) }
          : {}),
      });
      socket.once('secureConnect', () => socket.write(H2_PREFACE));
    } else {
      socket = net.connect({ host, port }, () => socket.write(H2_PREFACE));
    }
    const done = (r: { data?: Buffer; error?: unknown; closed?: boolean }) => {
      socket.destroy();
      resolve(r);
    };
    socket.setTimeout(timeoutMs, () => done({}));
    socket.once('data', (data: Buffer) => done({ data }));
    socket.once('error', (error) => done({ error }));
    socket.once('close', () => done({ closed: true }));
  });
  if (result.error) {
    const { codes } = errorCodes(result.error);
    const has = (set: ReadonlySet<string>) => codes.some((c) => set.has(c));
    if (has(TLS_CODES.unknownCa))
      throw new TemporalAccessError(
        `${where}: the server's certificate is not signed by a CA in ${E.caFile}${sec.caFile ? ` (${sec.caFile})` : ' (none given: the system CAs were used)'}: name the CA that issued the server's certificate`,
      );
    if (has(TLS_CODES.serverExpired))
      throw new TemporalAccessError(`${where}: the server's certificate has expired or is not valid yet`);
    if (has(TLS_CODES.wrongName))
      throw new TemporalAccessError(
        `${where}: the server's certificate does not name the host dialled: set ${E.serverName} to a name it holds`,
      );
    if (has(TLS_CODES.clientRefused))
      throw new TemporalAccessError(
        `${where}: the server refused the client certificate (${sec.certFile ? 'unknown issuer, expired or wrong' : 'none was sent'}): set ${E.certFile} and ${E.keyFile} to a certificate the server trusts`,
      );
    if (has(TLS_CODES.notTls))
      throw new TemporalAccessError(
        `${where}: the endpoint does not speak TLS: unset ${E.caFile}/${E.certFile} (or set ${E.tls}=false), or use its TLS port`,
      );
    if (has(TLS_CODES.badLocalFiles))
      throw new TemporalAccessError(
        `${where}: the client key or certificate cannot be used: check ${E.certFile} and ${E.keyFile}`,
      );
    return;
  }
  if (!sec.tls && (result.closed || (result.data && result.data[0] === 0x15))) {
    const usesTls = await new Promise<boolean>((resolve) => {
      const s = tls.connect({ host, port, rejectUnauthorized: false });
      const end = (v: boolean) => {
        s.destroy();
        resolve(v);
      };
      s.setTimeout(3000, () => end(false));
      s.once('secureConnect', () => end(true));
      s.once('error', () => end(false));
    });
    if (usesTls)
      throw new TemporalAccessError(
        `${where}: the endpoint speaks TLS but the client does not: set ${E.caFile} (and ${E.certFile}/${E.keyFile} if it wants a client certificate)`,
      );
  }
  // TLS 1.3: a server that refuses the client certificate closes the connection after the handshake.
  if (sec.tls && result.closed)
    throw new TemporalAccessError(
      sec.certFile === undefined
        ? `${where}: the server closed the connection after the TLS handshake, as servers that require a client certificate do: set ${E.certFile} and ${E.keyFile}`
        : `${where}: the server closed the connection after the TLS handshake: it refused the client certificate (unknown issuer, expired or wrong): set ${E.certFile} and ${E.keyFile} to a certificate the server trusts`,
    );
}

/**
 * The one-line fix for an error of a Temporal call made once connected (describeNamespace): a
 * namespace that does not exist, an API key refused; undefined when it is none of those.
 */
export function explainTemporalError(
  err: unknown,
  address: string,
  namespace: string,
  sec: TemporalSecurity,
): string | undefined {
  const where = describeTemporal(address, namespace, sec);
  const { messages } = errorCodes(err);
  const code = (err as { code?: unknown }).code;
  const text = messages.join(' | ');
  if (code === 5 || /namespace .*not found|NotFound/i.test(text))
    return `${where}: the namespace does not exist: set TEMPORAL_NAMESPACE to an existing one, or create it (temporal operator namespace create)`;
  if (code === 16 || code === 7 || /unauthenticated|permission denied|unauthorized/i.test(text))
    return `${where}: the server refused the credentials: check the key in ${TEMPORAL_SECURITY_ENV.apiKeyFile}${sec.apiKeyFile ? ` (${sec.apiKeyFile})` : ' (none given)'} or the client certificate's access to this namespace`;
  return undefined;
}
