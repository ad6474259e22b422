import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** One client connection through the proxy, as the taps see it. */
export interface ProxiedConnection {
  /** 1, 2, 3, … in the order the proxy accepted them. */
  readonly id: number;
}

/**
 * Hooks on the bytes going through, for crash tests that must act at a precise moment (a request
 * has reached the server, its answer has not reached the client). Each chunk waits for its hook
 * before it is forwarded (a hook returning bytes has them forwarded instead, e.g. a Host header
 * naming the server); chunks of one direction stay in order.
 */
export interface ProxyTaps {
  /** A chunk a client sent, before the server gets it. */
  fromClient?: Tap;
  /** A chunk the server answered, before the client gets it. */
  fromServer?: Tap;
}

/** A hook on one direction of a proxied connection. */
export type Tap = (chunk: Buffer, conn: ProxiedConnection) => Promise<Buffer | void> | Buffer | void;

/** How long `up()` keeps trying to bind the port it had when another socket still holds it. */
const REBIND_TIMEOUT_MS = 5000;

/**
 * A TCP proxy in front of a real server, for outage and crash tests: `down()` cuts every connection
 * and refuses new ones (the server looks stopped to its clients), `up()` accepts them again on the
 * same port; `taps` see (and may hold) each chunk. The real server, which other tests share, keeps running.
 */
export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private connections = 0;

  private constructor(
    private readonly target: { host: string; port: number },
    public port: number,
    private readonly taps: ProxyTaps,
  ) {}

  /** A proxy on a free local port to `target` ("host:port"). */
  static async start(target: string, taps: ProxyTaps = {}): Promise<TcpProxy> {
    const [host, port] = target.split(':');
    if (!host || !port || !/^\d+$/.test(port)) throw new Error(`target must be host:port, got ${target}`);
    const proxy = new TcpProxy({ host, port: Number(port) }, 0, taps);
    await proxy.up();
    return proxy;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((client) => {
      const conn = { id: ++this.connections };
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      forward(client, upstream, this.taps.fromClient, conn);
      forward(upstream, client, this.taps.fromServer, conn);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    // The port of a proxy taken down can be held for a moment (a socket closing): try again, then give up.
    const deadline = Date.now() + REBIND_TIMEOUT_MS;
    for (;;) {
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(this.port, '127.0.0.1', () => {
            server.off('error', reject);
            resolve();
          });
        });
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EADDRINUSE' || this.port === 0 || Date.now() > deadline) {
          throw new Error(`the proxy cannot listen on 127.0.0.1:${this.port}: ${(err as Error).message}`);
        }
        await sleep(100);
      }
    }
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Copies `from` to `to`, each chunk after its tap (if any) has run; `from` is paused meanwhile. */
function forward(from: net.Socket, to: net.Socket, tap: Tap | undefined, conn: ProxiedConnection): void {
  if (!tap) {
    from.pipe(to);
    return;
  }
  let chain = Promise.resolve();
  from.on('data', (chunk: Buffer) => {
    from.pause();
    chain = chain
      .then(() => tap(chunk, conn))
      .catch(() => undefined)
      .then((replaced) => {
        if (!to.destroyed) to.write(replaced ?? chunk);
        if (!from.destroyed) from.resume();
      });
  });
  from.on('end', () => void chain.then(() => to.end()));
}
