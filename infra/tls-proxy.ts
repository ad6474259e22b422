/**
 * A TLS-terminating TCP proxy that requires a client certificate: the Temporal dev server speaks
 * plaintext only (`temporal server start-dev` has no TLS flags), so the secured local infra puts
 * this in front of it. Run as a process:
 *   node --import tsx infra/tls-proxy.ts <listen host:port> <target host:port> <ca.pem> <cert.pem> <key.pem>
 */
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

/** Options of one proxy: where it listens, where it forwards, and its TLS files. */
export interface TlsProxyOptions {
  readonly listen: string;
  readonly target: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** One line per refused handshake (no certificate bytes, only the reason). */
  readonly log?: (line: string) => void;
}

const hostPort = (s: string) => {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
};

/** Starts the proxy; resolves with the port it listens on and a close. */
export async function startTlsProxy(
  opts: TlsProxyOptions,
): Promise<{ port: number; close(): Promise<void> }> {
  const target = hostPort(opts.target);
  const server = tls.createServer(
    {
      ca: fs.readFileSync(opts.caFile),
      cert: fs.readFileSync(opts.certFile),
      key: fs.readFileSync(opts.keyFile),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    },
    (client) => {
      const upstream = net.connect(target);
      client.pipe(upstream).pipe(client);
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end);
      upstream.on('error', end);
      client.on('close', end);
      upstream.on('close', end);
    },
  );
  server.on('tlsClientError', (err: NodeJS.ErrnoException) =>
    opts.log?.(`refused a handshake: ${err.code ?? err.message}`),
  );
  const listen = hostPort(opts.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, resolve);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [listen, target, caFile, certFile, keyFile] = process.argv.slice(2);
  if (!listen || !target || !caFile || !certFile || !keyFile) {
    process.stderr.write(
      'usage: tls-proxy <listen host:port> <target host:port> <ca.pem> <cert.pem> <key.pem>\n',
    );
    process.exit(2);
  }
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const proxy = await startTlsProxy({ listen, target, caFile, certFile, keyFile, log });
  log(`tls-proxy: ${listen} (client certificate required) -> ${target}, port ${proxy.port}`);
  const stop = () => void proxy.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
