import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ActuationRefusedError, type ActuationRequest } from '../../services/actuators/actuator.js';
import { httpActuator, secretsOf, type HttpActuatorOptions } from '../../services/actuators/http.js';
import { SignatureVerifier, signatureProblem, verifySignature } from '../../services/actuators/signature.js';
import type { ActuatorRef } from '../../services/common/contracts.js';

/** One request as the target saw it. */
interface Seen {
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** The only stand-in allowed: a real HTTP target on 127.0.0.1 recording every request. */
interface Target {
  readonly origin: string;
  readonly port: number;
  readonly seen: Seen[];
  /** Bytes of the huge body written before the client hung up, once the response closed. */
  hugeWritten: Promise<number>;
  close(): Promise<void>;
}

const HUGE = 50 * 1024 * 1024;

async function startTarget(redirectTo = ''): Promise<Target> {
  const seen: Seen[] = [];
  let reportHuge: (n: number) => void = () => undefined;
  const hugeWritten = new Promise<number>((resolve) => (reportHuge = resolve));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ url: req.url ?? '', headers: req.headers, body });
      const path = (req.url ?? '').split('?')[0];
      if (path === '/redirect') {
        res.writeHead(307, { location: redirectTo });
        res.end('redirect body that must not be kept');
      } else if (path === '/huge') {
        // Generated lazily with backpressure, so only what the client pulls is ever produced.
        res.writeHead(200, { 'content-type': 'text/plain' });
        const chunk = Buffer.alloc(64 * 1024, 'a');
        let written = 0;
        const pump = () => {
          while (written < HUGE && !res.destroyed) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          if (!res.destroyed) res.end();
        };
        res.on('close', () => reportHuge(written));
        pump();
      } else if (path === '/slow') {
        // Never answers; the client's timeout must fire.
      } else if (path?.startsWith('/echo/')) {
        // Echoes only the token of `authorization: Bearer <token>`, after `/echo/<n>` bytes of padding.
        const token = (req.headers.authorization ?? '').split(' ')[1] ?? '';
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`${'x'.repeat(Number(path.slice(6)))}${token} and more after it`);
      } else if (path === '/accents') {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('ééééé');
      } else {
        const status = Number(path?.slice(1)) || 200;
        res.writeHead(status, { 'content-type': 'application/json' });
        // Echoes the authorization header, as a careless target might.
        res.end(JSON.stringify({ status, authorization: req.headers.authorization ?? null }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    seen,
    hugeWritten,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function request(url?: string, overrides: Partial<ActuationRequest> = {}): ActuationRequest {
  const actuator: ActuatorRef = url === undefined ? { type: 'http' } : { type: 'http', url };
  return {
    idempotencyKey: 'idem-1',
    decisionId: 'dec-1',
    entity: 'web-1',
    action: 'scale_out',
    args: { replicas: 3 },
    actuator,
    ...overrides,
  };
}

const key = Buffer.from('test-hmac-key');

describe('httpActuator', () => {
  let target: Target;
  let other: Target;
  const options = (extra: Partial<HttpActuatorOptions> = {}): HttpActuatorOptions => ({
    defaultUrl: `${target.origin}/200`,
    timeoutMs: 2000,
    allowedOrigins: [target.origin],
    maxResponseBytes: 64,
    hmacKey: key,
    ...extra,
  });

  before(async () => {
    other = await startTarget();
    target = await startTarget(`http://user:hunter2@127.0.0.1:${other.port}/stolen?token=abc`);
  });
  after(async () => {
    await target.close();
    await other.close();
  });
  const reset = () => {
    target.seen.length = 0;
    other.seen.length = 0;
  };

  it('posts to an allowed origin with the idempotency key and a signature the target can verify', async () => {
    reset();
    const result = await httpActuator(options()).actuate(request());
    assert.equal(result.actuator, 'http');
    assert.deepEqual(result.detail, {
      url: `${target.origin}/200`,
      status: 200,
      body: '{"status":200,"authorization":null}',
    });
    assert.equal(target.seen.length, 1);
    const seen = target.seen[0]!;
    assert.equal(seen.headers['idempotency-key'], 'idem-1');
    assert.deepEqual(JSON.parse(seen.body.toString()), {
      idempotencyKey: 'idem-1',
      decisionId: 'dec-1',
      entity: 'web-1',
      action: 'scale_out',
      args: { replicas: 3 },
    });
    const timestamp = seen.headers['x-autoglm-timestamp'] as string;
    const signature = seen.headers['x-autoglm-signature'] as string;
    assert.match(signature, /^sha256=[0-9a-f]{64}$/);
    // The documented scheme, computed here independently of the module.
    const mac = createHmac('sha256', key)
      .update(`autoglm-v2\n${timestamp}\nPOST\n/200\n`)
      .update(seen.body)
      .digest('hex');
    assert.equal(signature, `sha256=${mac}`);
    const got = { method: 'POST', path: seen.url, body: seen.body, timestamp, signature };
    const now = Number(timestamp);
    assert.equal(verifySignature(key, got, now, 60_000), true);
    const tampered = Buffer.from(seen.body.toString().replace('"replicas":3', '"replicas":30'));
    assert.equal(signatureProblem(key, { ...got, body: tampered }, now, 60_000), 'mismatch');
    assert.equal(signatureProblem(Buffer.from('other'), got, now, 60_000), 'mismatch');
    assert.equal(signatureProblem(key, got, now + 120_000, 60_000), 'stale');
    // Re-dated within the skew: only the signed timestamp can catch it.
    assert.equal(signatureProblem(key, { ...got, timestamp: String(now + 1) }, now, 60_000), 'mismatch');
    assert.equal(signatureProblem(key, { ...got, method: 'PUT' }, now, 60_000), 'mismatch');
    assert.equal(signatureProblem(key, { ...got, path: '/201' }, now, 60_000), 'mismatch');
    assert.equal(signatureProblem(key, { ...got, timestamp: undefined }, now, 60_000), 'missing');
  });

  it('signs each request with a later timestamp than the last, so a quick retry is not a replay', async () => {
    reset();
    const actuator = httpActuator(options());
    await Promise.all([
      actuator.actuate(request()),
      actuator.actuate(request()),
      actuator.actuate(request()),
    ]);
    const verifier = new SignatureVerifier({ key, maxSkewMs: 60_000, maxSeen: 100 });
    const results = target.seen.map((seen) =>
      verifier.check(
        {
          method: 'POST',
          path: seen.url,
          body: seen.body,
          timestamp: seen.headers['x-autoglm-timestamp'] as string,
          signature: seen.headers['x-autoglm-signature'] as string,
        },
        Date.now(),
      ),
    );
    assert.deepEqual(results, [undefined, undefined, undefined]);
    assert.equal(new Set(target.seen.map((s) => s.headers['x-autoglm-timestamp'])).size, 3);
  });

  it('sends no signature headers without a key', async () => {
    reset();
    await httpActuator(options({ hmacKey: undefined })).actuate(request());
    assert.equal(target.seen[0]!.headers['x-autoglm-signature'], undefined);
  });

  it('refuses forbidden URLs before any request leaves, never showing the password', async () => {
    const bad = [
      'data:text/plain,hello',
      'file:///etc/passwd',
      'http://169.254.169.254/latest/meta-data/',
      `http://user:hunter2@127.0.0.1:${target.port}/200`,
      `http://127.0.0.1:${other.port}/200`,
      `${target.origin}/200?token=hunter2`,
      `${target.origin}/200#hunter2`,
      'not a url',
    ];
    const actuator = httpActuator(options());
    for (const url of bad) {
      reset();
      assert.notDeepEqual(actuator.check({ type: 'http', url }), [], url);
      await assert.rejects(actuator.actuate(request(url)), (err: Error) => {
        assert.ok(err instanceof ActuationRefusedError, url);
        assert.doesNotMatch(err.message + JSON.stringify(err.detail), /hunter2/);
        return true;
      });
      assert.equal(target.seen.length + other.seen.length, 0, `${url} reached a server`);
    }
  });

  it('compares the normal form of an address: decimal 127.0.0.1 is not the allowlisted localhost', async () => {
    reset();
    const decimal = `http://2130706433:${target.port}/200`;
    const onlyLocalhost = httpActuator(options({ allowedOrigins: [`http://localhost:${target.port}`] }));
    await assert.rejects(onlyLocalhost.actuate(request(decimal)), ActuationRefusedError);
    assert.equal(target.seen.length, 0);
    // The same spelling is allowed once its normal form (127.0.0.1) is listed.
    const result = await httpActuator(options()).actuate(request(decimal));
    assert.equal(result.detail.url, `${target.origin}/200`);
    assert.equal(target.seen.length, 1);
  });

  it('uses the default URL origin when no origins are listed', async () => {
    const actuator = httpActuator(options({ allowedOrigins: [] }));
    assert.deepEqual(actuator.check({ type: 'http' }), []);
    assert.match(actuator.check({ type: 'http', url: `${other.origin}/200` })[0]!, /not in AUTOGLM/);
  });

  it('refuses a redirect without following it or keeping its body', async () => {
    reset();
    const actuator = httpActuator(options({ allowedOrigins: [target.origin, other.origin] }));
    await assert.rejects(actuator.actuate(request(`${target.origin}/redirect`)), (err: Error) => {
      assert.ok(err instanceof ActuationRefusedError);
      assert.match(
        err.message,
        new RegExp(`redirect to http://127\\.0\\.0\\.1:${other.port}/stolen refused`),
      );
      const everything = err.message + JSON.stringify(err.detail);
      assert.doesNotMatch(everything, /hunter2|token=abc|must not be kept/);
      return true;
    });
    assert.equal(target.seen.length, 1);
    assert.equal(other.seen.length, 0, 'the redirect target received the request');
  });

  it('reads only maxResponseBytes of a huge streamed body, quickly', async () => {
    const started = Date.now();
    const result = await httpActuator(options({ maxResponseBytes: 4096 })).actuate(
      request(`${target.origin}/huge`),
    );
    assert.equal(result.detail.body, 'a'.repeat(4096));
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
    const written = await target.hugeWritten;
    assert.ok(written < HUGE / 2, `server wrote ${written} bytes: the body was downloaded`);
  });

  it('cuts a multi-byte body on a character boundary', async () => {
    const result = await httpActuator(options({ maxResponseBytes: 5 })).actuate(
      request(`${target.origin}/accents`),
    );
    assert.equal(result.detail.body, 'éé');
  });

  it('treats 503 as transient and 404 as a refusal', async () => {
    const actuator = httpActuator(options());
    await assert.rejects(actuator.actuate(request(`${target.origin}/503`)), (err: Error) => {
      assert.ok(!(err instanceof ActuationRefusedError));
      assert.match(err.message, /answered 503/);
      return true;
    });
    await assert.rejects(actuator.actuate(request(`${target.origin}/429`)), (err: Error) => {
      assert.ok(!(err instanceof ActuationRefusedError));
      return true;
    });
    await assert.rejects(actuator.actuate(request(`${target.origin}/404`)), (err: Error) => {
      assert.ok(err instanceof ActuationRefusedError);
      assert.equal(err.detail.status, 404);
      return true;
    });
  });

  it('treats a timeout and a refused connection as transient', async () => {
    const slow = httpActuator(options({ timeoutMs: 200 }));
    await assert.rejects(slow.actuate(request(`${target.origin}/slow`)), (err: Error) => {
      assert.ok(!(err instanceof ActuationRefusedError));
      assert.match(err.message, /no answer within 200 ms/);
      return true;
    });
    const gone = await startTarget();
    await gone.close();
    const closed = httpActuator(options({ allowedOrigins: [gone.origin] }));
    await assert.rejects(closed.actuate(request(`${gone.origin}/x`)), (err: Error) => {
      assert.ok(!(err instanceof ActuationRefusedError));
      assert.match(err.message, /ECONNREFUSED/);
      return true;
    });
  });

  it('scrubs a credential the target echoes in part, or cut at the size limit, before cutting', async () => {
    const token = 's3cret-token-0123456789';
    const actuator = httpActuator(
      options({
        maxResponseBytes: 64,
        headersByOrigin: { [target.origin]: { authorization: `Bearer ${token}` } },
      }),
    );
    // Only the token, not the whole header value, comes back.
    const part = await actuator.actuate(request(`${target.origin}/echo/0`));
    assert.equal(part.detail.body, '[redacted] and more after it');
    // The token straddles byte 64: cut first, its first 14 characters would be left.
    const cut = await actuator.actuate(request(`${target.origin}/echo/50`));
    const body = String(cut.detail.body);
    assert.doesNotMatch(body, /s3cret/);
    assert.equal(body, `${'x'.repeat(50)}[redacted] and more after it`.slice(0, 64));
    assert.ok(Buffer.byteLength(body) <= 64);
  });

  it('secretsOf: each whole value and each long part, longest first; short words are not secrets', () => {
    assert.deepEqual(
      secretsOf({ authorization: 'Bearer abcdefgh12', 'x-api-key': 'k=v;longer-part-1', e: '' }),
      ['Bearer abcdefgh12', 'k=v;longer-part-1', 'longer-part-1', 'abcdefgh12'],
    );
  });

  it('sends per-origin headers only to their origin and keeps them out of the detail', async () => {
    reset();
    const secret = 'Bearer s3cret-token';
    const actuator = httpActuator(
      options({
        allowedOrigins: [target.origin, other.origin],
        headersByOrigin: { [`${target.origin}/`]: { authorization: secret } },
      }),
    );
    const result = await actuator.actuate(request(`${target.origin}/200`));
    assert.equal(target.seen[0]!.headers.authorization, secret);
    assert.doesNotMatch(JSON.stringify(result.detail), /s3cret/);
    await actuator.actuate(request(`${other.origin}/200`));
    assert.equal(other.seen[0]!.headers.authorization, undefined);
    await assert.rejects(actuator.actuate(request(`${target.origin}/404`)), (err: Error) => {
      assert.doesNotMatch(err.message + JSON.stringify((err as ActuationRefusedError).detail), /s3cret/);
      return true;
    });
  });

  it('refuses a bad allowlist or header at construction, without quoting the header value', () => {
    assert.throws(
      () => httpActuator(options({ allowedOrigins: ['ftp://x'] })),
      /AUTOGLM_HTTP_ALLOWED_ORIGINS/,
    );
    const badHeader = { [target.origin]: { authorization: 'Bearer s3cret\nx-evil: 1' } };
    assert.throws(
      () => httpActuator(options({ headersByOrigin: badHeader })),
      (err: Error) =>
        /"authorization" for .* is not a valid header/.test(err.message) && !/s3cret/.test(err.message),
    );
  });
});
