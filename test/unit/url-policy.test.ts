import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkHttpUrl,
  parseAllowedOrigins,
  redactCredentials,
  redactText,
  redactUrl,
} from '../../services/common/url-policy.js';

describe('parseAllowedOrigins', () => {
  it('normalises origins (case, default port, trailing slash) and drops duplicates', () => {
    const { origins, problems } = parseAllowedOrigins([
      'HTTP://Ops.Example.COM:80',
      'http://ops.example.com/',
      'https://127.0.0.1:8443',
    ]);
    assert.deepEqual(problems, []);
    assert.deepEqual(origins, ['http://ops.example.com', 'https://127.0.0.1:8443']);
  });

  it('names every bad entry with the fix, and never shows a password', () => {
    const bad = [
      'not a url',
      'ftp://files.example.com',
      'http://admin:hunter2@ops.example.com',
      'http://ops.example.com/api',
      'http://ops.example.com/?x=1',
      'http://ops.example.com#frag',
    ];
    const { origins, problems } = parseAllowedOrigins(bad);
    assert.deepEqual(origins, []);
    assert.equal(problems.length, bad.length);
    for (const p of problems) {
      assert.match(p, /AUTOGLM_HTTP_ALLOWED_ORIGINS entry .* write an origin such as/);
      assert.doesNotMatch(p, /hunter2/);
    }
    assert.match(problems[1]!, /only http: and https:/);
    assert.match(problems[2]!, /AUTOGLM_HTTP_HEADERS_FILE/);
    assert.match(problems[3]!, /path, query or fragment/);
  });
});

describe('checkHttpUrl', () => {
  const origins = ['http://127.0.0.1:8090', 'https://ops.example.com'];

  it('allows URLs on an allowlisted origin, whatever the path', () => {
    assert.equal(checkHttpUrl('http://127.0.0.1:8090/actuate', origins), undefined);
    assert.equal(checkHttpUrl('https://OPS.example.com:443/a/b', origins), undefined);
  });

  it('refuses a query or fragment (decisions and history would carry a token), never quoting it', () => {
    for (const url of [
      'http://127.0.0.1:8090/actuate?token=hunter2',
      'https://ops.example.com/a?c=d',
      'http://127.0.0.1:8090/actuate?',
      'http://127.0.0.1:8090/actuate#hunter2',
    ]) {
      const why = checkHttpUrl(url, origins);
      assert.match(why ?? '', /has a query or fragment.*AUTOGLM_HTTP_HEADERS_FILE.*args/, url);
      assert.doesNotMatch(why ?? '', /hunter2|c=d/);
    }
  });

  it('compares other spellings of an address in their normal form', () => {
    assert.equal(checkHttpUrl('http://2130706433:8090/', origins), undefined);
    assert.equal(checkHttpUrl('http://0x7f.1:8090/', origins), undefined);
    assert.match(
      checkHttpUrl('http://2130706433:9999/', origins)!,
      /origin http:\/\/127\.0\.0\.1:9999 is not/,
    );
    // IPv4-mapped IPv6 is a different origin: refused unless listed in that form.
    assert.match(
      checkHttpUrl('http://[::ffff:127.0.0.1]:8090/', origins)!,
      /not in AUTOGLM_HTTP_ALLOWED_ORIGINS/,
    );
  });

  it('refuses other schemes, credentials, other origins and garbage, saying why', () => {
    assert.match(checkHttpUrl('data:text/plain,hello', origins)!, /scheme data: is not allowed/);
    assert.match(checkHttpUrl('file:///etc/passwd', origins)!, /scheme file: is not allowed/);
    assert.match(checkHttpUrl('http://169.254.169.254/latest/meta-data/', origins)!, /not in AUTOGLM/);
    assert.match(checkHttpUrl('http://127.0.0.1:8091/', origins)!, /not in AUTOGLM/);
    assert.match(checkHttpUrl('/relative', origins)!, /not a valid absolute URL/);
    const creds = checkHttpUrl('http://admin:hunter2@127.0.0.1:8090/x?token=abc', origins)!;
    assert.match(creds, /put credentials in AUTOGLM_HTTP_HEADERS_FILE/);
    assert.doesNotMatch(creds, /hunter2|admin|token=abc/);
    assert.match(checkHttpUrl('http://127.0.0.1:8090/', [])!, /allowed: none/);
  });
});

describe('redactUrl / redactText', () => {
  it('keeps scheme, host, port and path; drops userinfo, query and fragment', () => {
    assert.equal(redactUrl('https://u:p@Example.com:8443/a/b?token=x#y'), 'https://example.com:8443/a/b');
    assert.equal(redactUrl('data:text/plain;base64,c2VjcmV0'), 'data:[redacted]');
    assert.equal(redactUrl('::nope::'), '[unparseable URL]');
  });

  it('redacts every URL inside free text', () => {
    const text =
      'Request cannot be constructed from a URL that includes credentials: http://user:pw@10.0.0.1:81/x?k=v, ' +
      'then "https://a.example/?sig=s3cr3t" failed';
    assert.equal(
      redactText(text),
      'Request cannot be constructed from a URL that includes credentials: http://10.0.0.1:81/x, ' +
        'then "https://a.example/" failed',
    );
  });
});

describe('redactCredentials', () => {
  it('drops user:password@ before a host outside URLs too, and keeps the rest', () => {
    assert.equal(
      redactCredentials('"alice:hunter2@kafka-1:9092,kafka-2:9092"'),
      '"[redacted]@kafka-1:9092,kafka-2:9092"',
    );
    assert.equal(redactCredentials('"svc:p@ss@temporal:7233"'), '"[redacted]@[redacted]@temporal:7233"');
    assert.equal(redactCredentials('see https://u:p@x.example/a?t=1'), 'see https://x.example/a');
    assert.equal(redactCredentials('"127.0.0.1:9092"'), '"127.0.0.1:9092"');
  });
});
