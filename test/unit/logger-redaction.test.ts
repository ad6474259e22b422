import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { loggerOptions } from '../../services/common/logger.js';

/** A logger with the service options writing to memory; returns it and the parsed lines. */
function memoryLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const logger = pino(loggerOptions('info'), stream);
  return {
    logger,
    entries: () => lines.map((l) => JSON.parse(l) as Record<string, any>),
    raw: () => lines.join(''),
  };
}

describe('logger redaction', () => {
  it('censors credential fields at the top level and one or two levels deep', () => {
    const { logger, entries, raw } = memoryLogger();
    logger.info(
      {
        password: 'pw-top',
        token: 'tok-top',
        apiKey: 'key-top',
        db: { password: 'pw-one', user: 'svc' },
        target: { auth: { secret: 'sec-two', token: 'tok-two' } },
        entity: 'web-1',
      },
      'connecting',
    );
    const [entry] = entries();
    assert.equal(entry!.password, '[redacted]');
    assert.equal(entry!.token, '[redacted]');
    assert.equal(entry!.apiKey, '[redacted]');
    assert.equal(entry!.db.password, '[redacted]');
    assert.equal(entry!.db.user, 'svc', 'other fields stay');
    assert.equal(entry!.target.auth.secret, '[redacted]');
    assert.equal(entry!.entity, 'web-1');
    assert.doesNotMatch(raw(), /pw-top|tok-top|key-top|pw-one|sec-two|tok-two/);
  });

  it('censors authorization, cookie and x-api-key headers, also inside a request object', () => {
    const { logger, entries, raw } = memoryLogger();
    logger.info(
      {
        headers: {
          authorization: 'Bearer h0',
          cookie: 'sid=c0',
          'x-api-key': 'xk0',
          accept: 'application/json',
        },
        req: { headers: { authorization: 'Basic h1', 'set-cookie': 'sid=c1' } },
      },
      'request',
    );
    const [entry] = entries();
    assert.equal(entry!.headers.authorization, '[redacted]');
    assert.equal(entry!.headers.accept, 'application/json');
    assert.equal(entry!.req.headers['set-cookie'], '[redacted]');
    assert.doesNotMatch(raw(), /h0|c0|xk0|h1|c1/);
  });

  it('strips credentials and queries from URLs inside logged errors', () => {
    const { logger, entries, raw } = memoryLogger();
    logger.error({ err: new TypeError('cannot fetch http://admin:hunter2@10.0.0.1/x?token=abc') }, 'failed');
    const [entry] = entries();
    assert.equal(entry!.err.message, 'cannot fetch http://10.0.0.1/x');
    assert.equal(entry!.err.type, 'TypeError');
    assert.doesNotMatch(raw(), /hunter2|token=abc/);
  });

  it('censors secret names in any case and spelling, at any depth, without changing the caller’s object', () => {
    const { logger, entries, raw } = memoryLogger();
    const logged = {
      headers: { Authorization: 'Bearer s1', 'Proxy-Authorization': 'Basic s2', Cookie: 's3' },
      accessToken: 's4',
      access_token: 's5',
      clientSecret: 's6',
      hmacKey: 's7',
      a: { b: { c: { d: { e: { password: 's8', x_api_key: 's9', keep: 'visible' } } } } },
      list: [{ refresh_token: 's10' }],
      maxTokens: 3,
    };
    logger.info(logged, 'deep');
    const [entry] = entries();
    assert.doesNotMatch(raw(), /"s\d+"/);
    assert.equal(entry!.headers.Authorization, '[redacted]');
    assert.equal(entry!.a.b.c.d.e.password, '[redacted]');
    assert.equal(entry!.a.b.c.d.e.keep, 'visible');
    assert.equal(entry!.maxTokens, 3, 'a count of tokens is not a token');
    assert.equal(logged.accessToken, 's4', 'the caller’s object is not changed');
    assert.equal(logged.a.b.c.d.e.password, 's8');
  });

  it('survives a circular object and cuts one deeper than ten levels', () => {
    const { logger, entries } = memoryLogger();
    const loop: Record<string, unknown> = { name: 'loop' };
    loop.self = loop;
    let deep: Record<string, unknown> = { token: 'deepest' };
    for (let i = 0; i < 12; i++) deep = { next: deep };
    logger.info({ loop, deep }, 'shapes');
    const [entry] = entries();
    assert.equal(entry!.loop.self, '[circular]');
    assert.doesNotMatch(JSON.stringify(entry), /deepest/);
    assert.match(JSON.stringify(entry), /too deep/);
  });

  it('strips URL credentials and queries from the message text', () => {
    const { logger, entries, raw } = memoryLogger();
    logger.warn('calling https://bot:pw1@hooks.example/x?token=abc failed');
    logger.warn({ entity: 'svc@eu' }, 'posting to %s', 'https://hooks.example/y?sig=def');
    assert.equal(entries()[0]!.msg, 'calling https://hooks.example/x failed');
    assert.equal(entries()[1]!.msg, 'posting to https://hooks.example/y');
    assert.equal(entries()[1]!.entity, 'svc@eu');
    assert.doesNotMatch(raw(), /pw1|token=abc|sig=def/);
  });

  it('redacts the causes and members of an AggregateError, and an error logged under another key', () => {
    const { logger, entries, raw } = memoryLogger();
    const inner = new Error('GET http://u:p1@a.example/?k=v1 refused');
    const err = new AggregateError(
      [
        inner,
        new Error('POST https://b.example/z?token=v2', { cause: new Error('at https://c.example/?t=v3') }),
      ],
      'all failed at https://d.example/?t=v4',
    );
    logger.error({
      err,
      other: { failure: Object.assign(new Error('x https://e.example/?t=v5'), { token: 'v6' }) },
    });
    const [entry] = entries();
    assert.doesNotMatch(raw(), /p1|v1|v2|v3|v4|v5|v6/);
    assert.equal(entry!.err.type, 'AggregateError');
    assert.equal(entry!.err.aggregateErrors.length, 2);
    assert.equal(entry!.err.aggregateErrors[0].message, 'GET http://a.example/ refused');
    assert.equal(entry!.other.failure.message, 'x https://e.example/');
  });
});
