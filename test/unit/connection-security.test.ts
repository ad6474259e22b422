import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import type { ConfigError } from '../../services/common/config.js';
import { loadConfig } from '../../services/common/config.js';
import { createKafka } from '../../services/common/kafka.js';
import {
  explainKafkaError,
  kafkajsSecurityOptions,
  parseKafkaSecurity,
} from '../../services/common/kafka-security.js';
import {
  explainTemporalError,
  parseTemporalSecurity,
  temporalConnectionOptions,
} from '../../services/common/temporal-security.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-security-unit-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text, { mode: 0o600 });
  return p;
};
const PASSWORD = 'S3cret-pass-word';
const passwordFile = file('password', `${PASSWORD}\n`);
const caFile = file('ca.pem', '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n');
const certFile = file('client.pem', '-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n');
const keyFile = file('client-key.pem', '-----BEGIN PRIVATE KEY-----\nKEYBYTES\n-----END PRIVATE KEY-----\n');
const apiKeyFile = file('api-key', 'the-api-key\n');

describe('Kafka security settings', () => {
  it('defaults to PLAINTEXT with nothing else', () => {
    const { security, problems } = parseKafkaSecurity({});
    assert.deepEqual(problems, []);
    assert.deepEqual(security, { protocol: 'PLAINTEXT', insecureSkipVerify: false });
    assert.deepEqual(kafkajsSecurityOptions(security), {});
  });

  it('SASL_SSL with SCRAM-SHA-512 reads the password from its file, not the config', () => {
    const { security, problems } = parseKafkaSecurity({
      KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'autoglm',
      KAFKA_SASL_PASSWORD_FILE: passwordFile,
      KAFKA_SSL_CA_FILE: caFile,
    });
    assert.deepEqual(problems, []);
    assert.ok(!JSON.stringify(security).includes(PASSWORD), 'the settings hold the path, not the password');
    const options = kafkajsSecurityOptions(security);
    assert.deepEqual(options.sasl, { mechanism: 'scram-sha-512', username: 'autoglm', password: PASSWORD });
    assert.equal((options.ssl as { rejectUnauthorized: boolean }).rejectUnauthorized, true);
    assert.equal(String((options.ssl as { ca: Buffer }).ca), fs.readFileSync(caFile, 'utf8'));
  });

  it('SSL with a client certificate and key is mTLS; the server name is passed on', () => {
    const { security, problems } = parseKafkaSecurity({
      KAFKA_SECURITY_PROTOCOL: 'SSL',
      KAFKA_SSL_CA_FILE: caFile,
      KAFKA_SSL_CERT_FILE: certFile,
      KAFKA_SSL_KEY_FILE: keyFile,
      KAFKA_SSL_SERVERNAME: 'kafka.internal',
    });
    assert.deepEqual(problems, []);
    const ssl = kafkajsSecurityOptions(security).ssl as Record<string, unknown>;
    assert.equal(ssl.servername, 'kafka.internal');
    assert.equal(String(ssl.key), fs.readFileSync(keyFile, 'utf8'));
    assert.equal(kafkajsSecurityOptions(security).sasl, undefined);
  });

  it('lists every problem, each named by its variable, with no secret in it', () => {
    const { problems } = parseKafkaSecurity({
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_MECHANISM: 'GSSAPI',
      KAFKA_SASL_PASSWORD: PASSWORD,
      KAFKA_SSL_CA_FILE: path.join(dir, 'missing.pem'),
      KAFKA_SSL_CERT_FILE: certFile,
    });
    const text = problems.join('\n');
    assert.ok(!text.includes(PASSWORD), text);
    assert.match(
      text,
      /KAFKA_SASL_MECHANISM="GSSAPI": SASL_SSL needs one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512/,
    );
    assert.match(text, /KAFKA_SASL_USERNAME is empty/);
    assert.match(text, /KAFKA_SASL_PASSWORD_FILE is empty/);
    assert.match(text, /KAFKA_SASL_PASSWORD is not read .* name it in KAFKA_SASL_PASSWORD_FILE/);
    assert.match(text, /KAFKA_SSL_CA_FILE=.*missing\.pem: no such file/);
    assert.match(text, /KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together/);
    assert.equal(problems.length, 6, text);
  });

  it('refuses an unknown protocol and TLS or SASL settings the protocol does not use', () => {
    assert.match(
      parseKafkaSecurity({ KAFKA_SECURITY_PROTOCOL: 'TLS' }).problems.join(),
      /use one of PLAINTEXT, SSL/,
    );
    assert.match(
      parseKafkaSecurity({ KAFKA_SSL_CA_FILE: caFile }).problems.join(),
      /KAFKA_SSL_CA_FILE is set but KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use TLS/,
    );
    assert.match(
      parseKafkaSecurity({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SASL_USERNAME: 'u' }).problems.join(),
      /does not use SASL/,
    );
    // A misspelt protocol is one problem, not one more for each setting it would use; a named
    // file that cannot be read is a problem whatever the protocol.
    assert.deepEqual(
      parseKafkaSecurity({
        KAFKA_SECURITY_PROTOCOL: 'SASL-SSL',
        KAFKA_SSL_CA_FILE: caFile,
        KAFKA_SSL_INSECURE_SKIP_VERIFY: 'true',
        KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD_FILE: path.join(dir, 'absent'),
      }).problems,
      [
        'KAFKA_SECURITY_PROTOCOL="SASL-SSL": use one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL',
        `KAFKA_SASL_PASSWORD_FILE=${path.join(dir, 'absent')}: no such file`,
      ],
    );
  });

  it('turns certificate checks off only by a switch named insecure', () => {
    const { security } = parseKafkaSecurity({
      KAFKA_SECURITY_PROTOCOL: 'SSL',
      KAFKA_SSL_INSECURE_SKIP_VERIFY: 'true',
    });
    assert.equal(security.insecureSkipVerify, true);
    assert.equal(
      (kafkajsSecurityOptions(security).ssl as { rejectUnauthorized: boolean }).rejectUnauthorized,
      false,
    );
  });

  it('createKafka warns at start, once, when certificate checks are off', () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    const config = loadConfig({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_INSECURE_SKIP_VERIFY: 'yes' });
    createKafka(config, logger);
    createKafka(config, logger);
    const warnings = lines.filter((l) => l.includes('KAFKA_SSL_INSECURE_SKIP_VERIFY is on'));
    assert.equal(warnings.length, 1, lines.join(''));
    assert.equal((JSON.parse(warnings[0]!) as { level: number }).level, 40);
    assert.match(warnings[0]!, /certificate of kafka 127\.0\.0\.1:9092 \(SSL\) is NOT checked/);
  });

  it('loadConfig lists security problems with the others and keeps only paths', () => {
    assert.throws(
      () =>
        loadConfig({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', AUTOGLM_WINDOW: 'soon', TEMPORAL_API_KEY: 'k' }),
      (err: ConfigError) =>
        err.problems.some((p) => p.startsWith('AUTOGLM_WINDOW')) &&
        err.problems.some((p) => p.startsWith('KAFKA_SASL_MECHANISM')) &&
        err.problems.some((p) => p.startsWith('TEMPORAL_API_KEY is not read')) &&
        !err.message.includes('"k"'),
    );
    const config = loadConfig({
      KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
      KAFKA_SASL_MECHANISM: 'PLAIN',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD_FILE: passwordFile,
      TEMPORAL_API_KEY_FILE: apiKeyFile,
    });
    assert.ok(!JSON.stringify(config).includes(PASSWORD));
    assert.ok(!JSON.stringify(config).includes('the-api-key'));
    assert.equal(config.kafkaSecurity.sasl?.passwordFile, passwordFile);
  });

  it('explains the errors retrying will not mend, and leaves the others to retries', () => {
    const sec = parseKafkaSecurity({
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
      KAFKA_SASL_USERNAME: 'autoglm',
      KAFKA_SASL_PASSWORD_FILE: passwordFile,
    }).security;
    const brokers = ['kafka:9094'];
    const auth = Object.assign(new Error('SASL SCRAM SHA256 authentication failed: Authentication failed'), {
      name: 'KafkaJSSASLAuthenticationError',
    });
    assert.match(
      explainKafkaError(auth, brokers, sec) ?? '',
      /^kafka kafka:9094 \(SASL_SSL, SCRAM-SHA-256 as autoglm\): authentication failed: check KAFKA_SASL_USERNAME/,
    );
    const wrapped = {
      message: 'retries',
      cause: { message: 'Connection error', code: 'SELF_SIGNED_CERT_IN_CHAIN' },
    };
    assert.match(
      explainKafkaError(wrapped, brokers, sec) ?? '',
      /not signed by a CA in KAFKA_SSL_CA_FILE \(none given/,
    );
    assert.match(
      explainKafkaError({ code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' }, brokers, sec) ?? '',
      /refused the client certificate \(none was sent\)/,
    );
    assert.equal(
      explainKafkaError({ message: 'connect ECONNREFUSED', code: 'ECONNREFUSED' }, brokers, sec),
      undefined,
    );
  });
});

describe('Temporal security settings', () => {
  it('defaults to plaintext without an API key', () => {
    const { security, problems } = parseTemporalSecurity({});
    assert.deepEqual(problems, []);
    assert.deepEqual(temporalConnectionOptions(security), {});
  });

  it('mTLS with a server name, and an API key read from its file as the SDK option apiKey', () => {
    const { security, problems } = parseTemporalSecurity({
      TEMPORAL_TLS_CA_FILE: caFile,
      TEMPORAL_TLS_CERT_FILE: certFile,
      TEMPORAL_TLS_KEY_FILE: keyFile,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
      TEMPORAL_API_KEY_FILE: apiKeyFile,
    });
    assert.deepEqual(problems, []);
    const options = temporalConnectionOptions(security);
    assert.equal(options.apiKey, 'the-api-key');
    assert.equal(options.tls?.serverNameOverride, 'temporal.internal');
    assert.equal(String(options.tls?.clientCertPair?.key), fs.readFileSync(keyFile, 'utf8'));
    assert.equal(String(options.tls?.serverRootCACertificate), fs.readFileSync(caFile, 'utf8'));
  });

  it('an API key alone turns TLS on with the system CAs; TEMPORAL_TLS=false keeps it plaintext', () => {
    assert.deepEqual(
      temporalConnectionOptions(parseTemporalSecurity({ TEMPORAL_API_KEY_FILE: apiKeyFile }).security),
      {
        tls: {},
        apiKey: 'the-api-key',
      },
    );
    assert.equal(
      temporalConnectionOptions(
        parseTemporalSecurity({ TEMPORAL_API_KEY_FILE: apiKeyFile, TEMPORAL_TLS: 'false' }).security,
      ).tls,
      undefined,
    );
  });

  it('lists problems without the key and explains a missing namespace and refused credentials', () => {
    const { problems } = parseTemporalSecurity({
      TEMPORAL_API_KEY: 'the-api-key',
      TEMPORAL_TLS_KEY_FILE: keyFile,
      TEMPORAL_TLS: 'maybe',
    });
    const text = problems.join('\n');
    assert.ok(!text.includes('the-api-key'));
    assert.match(text, /TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE go together/);
    assert.match(text, /TEMPORAL_API_KEY is not read/);
    assert.match(text, /TEMPORAL_TLS="maybe": use true or false/);
    // "maybe" is listed once, not again as a false against the TLS files.
    assert.deepEqual(
      parseTemporalSecurity({ TEMPORAL_TLS: 'maybe', TEMPORAL_TLS_CA_FILE: caFile }).problems,
      ['TEMPORAL_TLS="maybe": use true or false'],
    );
    const sec = parseTemporalSecurity({ TEMPORAL_API_KEY_FILE: apiKeyFile }).security;
    assert.match(
      explainTemporalError(
        { code: 5, message: 'Namespace nope is not found.' },
        'ns.tmprl.cloud:7233',
        'nope',
        sec,
      ) ?? '',
      /^temporal ns\.tmprl\.cloud:7233 namespace nope \(TLS, API key\): the namespace does not exist/,
    );
    assert.match(
      explainTemporalError(
        { code: 16, message: 'Request unauthorized.' },
        'ns.tmprl.cloud:7233',
        'nope',
        sec,
      ) ?? '',
      /refused the credentials: check the key in TEMPORAL_API_KEY_FILE/,
    );
    assert.equal(explainTemporalError({ code: 14, message: 'unavailable' }, 'a:1', 'n', sec), undefined);
  });
});
