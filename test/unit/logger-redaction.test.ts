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
});
