import fs from 'node:fs';
import tls from 'node:tls';
import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import { errorCodes, fileProblem, isOn, readSecretFile, tlsFailureOf } from './tls-files.js';

/** How clients reach Kafka: what `KAFKA_SECURITY_PROTOCOL` and its companions say. Paths only, never secrets. */
export interface KafkaSecurity {
  readonly protocol: 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly keyPasswordFile?: string;
  readonly serverName?: string;
  /** KAFKA_SSL_INSECURE_SKIP_VERIFY: the broker's certificate is not checked (a warning is logged at start). */
  readonly insecureSkipVerify: boolean;
  readonly sasl?: {
    readonly mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
    readonly username: string;
    readonly passwordFile: string;
  };
}

/** The environment variables of Kafka security, named once for config, docs and `infra up --secure`. */
export const KAFKA_SECURITY_ENV = {
  protocol: 'KAFKA_SECURITY_PROTOCOL',
  caFile: 'KAFKA_SSL_CA_FILE',
  certFile: 'KAFKA_SSL_CERT_FILE',
  keyFile: 'KAFKA_SSL_KEY_FILE',
  keyPasswordFile: 'KAFKA_SSL_KEY_PASSWORD_FILE',
  serverName: 'KAFKA_SSL_SERVERNAME',
  insecure: 'KAFKA_SSL_INSECURE_SKIP_VERIFY',
  mechanism: 'KAFKA_SASL_MECHANISM',
  username: 'KAFKA_SASL_USERNAME',
  passwordFile: 'KAFKA_SASL_PASSWORD_FILE',
} as const;

const PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
const MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

/**
 * Reads Kafka security from `env`; every problem (unknown protocol, a file that is missing or
 * unreadable, a password given as a value) is listed, named by its variable, with no secret in it.
 */
export function parseKafkaSecurity(env: NodeJS.ProcessEnv): { security: KafkaSecurity; problems: string[] } {
  const E = KAFKA_SECURITY_ENV;
  const get = (name: string) => env[name]?.trim() || undefined;
  const problems: string[] = [];
  const protocolRaw = (get(E.protocol) ?? 'PLAINTEXT').toUpperCase();
  const protocol = (PROTOCOLS as readonly string[]).includes(protocolRaw)
    ? (protocolRaw as KafkaSecurity['protocol'])
    : undefined;
  if (!protocol)
    problems.push(`${E.protocol}=${JSON.stringify(protocolRaw)}: use one of ${PROTOCOLS.join(', ')}`);
  const useTls = protocol === 'SSL' || protocol === 'SASL_SSL';
  const useSasl = protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';
  const files = {
    caFile: get(E.caFile),
    certFile: get(E.certFile),
    keyFile: get(E.keyFile),
    keyPasswordFile: get(E.keyPasswordFile),
  };
  // An unknown protocol is listed once, above: the checks of what it would use wait until it is known.
  for (const [key, file] of Object.entries(files)) {
    if (file === undefined) continue;
    const envName = E[key as keyof typeof files];
    if (protocol && !useTls)
      problems.push(
        `${envName} is set but ${E.protocol}=${protocolRaw} does not use TLS: use SSL or SASL_SSL`,
      );
    else {
      const problem = fileProblem(envName, file);
      if (problem) problems.push(problem);
    }
  }
  if ((files.certFile === undefined) !== (files.keyFile === undefined))
    problems.push(`${E.certFile} and ${E.keyFile} go together: name both (mTLS) or neither`);
  const insecureSkipVerify = isOn(get(E.insecure));
  if (insecureSkipVerify && protocol && !useTls)
    problems.push(`${E.insecure} is set but ${E.protocol}=${protocolRaw} does not use TLS`);
  if (env.KAFKA_SASL_PASSWORD !== undefined)
    problems.push(
      `KAFKA_SASL_PASSWORD is not read (a variable's value leaks into process listings): put the password in a file readable only by this user and name it in ${E.passwordFile}`,
    );
  let sasl: KafkaSecurity['sasl'];
  const mechanismRaw = (get(E.mechanism) ?? '').toUpperCase();
  if (useSasl) {
    const mechanism = (MECHANISMS as readonly string[]).includes(mechanismRaw)
      ? (mechanismRaw as NonNullable<KafkaSecurity['sasl']>['mechanism'])
      : undefined;
    if (!mechanism)
      problems.push(
        `${E.mechanism}=${JSON.stringify(mechanismRaw)}: ${protocolRaw} needs one of ${MECHANISMS.join(', ')}`,
      );
    const username = get(E.username);
    if (!username) problems.push(`${E.username} is empty: ${protocolRaw} needs the SASL user name`);
    const passwordFile = get(E.passwordFile);
    if (!passwordFile) problems.push(`${E.passwordFile} is empty: name the file holding the SASL password`);
    else {
      const problem = fileProblem(E.passwordFile, passwordFile);
      if (problem) problems.push(problem);
    }
    if (mechanism && username && passwordFile) sasl = { mechanism, username, passwordFile };
  } else if (!protocol) {
    // Whatever the protocol is meant to be, a named file must be readable (as the TLS files above).
    const problem = get(E.passwordFile) && fileProblem(E.passwordFile, get(E.passwordFile)!);
    if (problem) problems.push(problem);
  } else if (get(E.mechanism) || get(E.username) || get(E.passwordFile)) {
    problems.push(
      `KAFKA_SASL_* is set but ${E.protocol}=${protocolRaw} does not use SASL: use SASL_PLAINTEXT or SASL_SSL`,
    );
  }
  const serverName = get(E.serverName);
  const security: KafkaSecurity = Object.freeze({
    protocol: protocol ?? 'PLAINTEXT',
    ...(useTls ? Object.fromEntries(Object.entries(files).filter(([, v]) => v !== undefined)) : {}),
    ...(useTls && serverName ? { serverName } : {}),
    insecureSkipVerify: useTls && insecureSkipVerify,
    ...(sasl ? { sasl: Object.freeze(sasl) } : {}),
  });
  return { security, problems };
}

/** PLAINTEXT, the default when nothing is set. */
export const PLAINTEXT: KafkaSecurity = Object.freeze({ protocol: 'PLAINTEXT', insecureSkipVerify: false });

/** The `ssl` and `sasl` options of a kafkajs client, the files read now (a rotated file is read by the next client). */
export function kafkajsSecurityOptions(sec: KafkaSecurity): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const out: { ssl?: tls.ConnectionOptions; sasl?: SASLOptions } = {};
  if (sec.protocol === 'SSL' || sec.protocol === 'SASL_SSL') {
    out.ssl = {
      rejectUnauthorized: !sec.insecureSkipVerify,
      ...(sec.caFile ? { ca: fs.readFileSync(sec.caFile) } : {}),
      ...(sec.certFile ? { cert: fs.readFileSync(sec.certFile) } : {}),
      ...(sec.keyFile ? { key: fs.readFileSync(sec.keyFile) } : {}),
      ...(sec.keyPasswordFile ? { passphrase: readSecretFile(sec.keyPasswordFile) } : {}),
      ...(sec.serverName ? { servername: sec.serverName } : {}),
    };
  }
  if (sec.sasl) {
    const password = readSecretFile(sec.sasl.passwordFile);
    const { username } = sec.sasl;
    out.sasl =
      sec.sasl.mechanism === 'PLAIN'
        ? { mechanism: 'plain', username, password }
        : sec.sasl.mechanism === 'SCRAM-SHA-256'
          ? { mechanism: 'scram-sha-256', username, password }
          : { mechanism: 'scram-sha-512', username, password };
  }
  return out;
}

/** `kafka 127.0.0.1:9094 (SASL_SSL, SCRAM-SHA-512 as autoglm)`: what an error line names. */
export function describeKafka(brokers: readonly string[], sec: KafkaSecurity): string {
  const how = [sec.protocol, sec.sasl ? `${sec.sasl.mechanism} as ${sec.sasl.username}` : undefined];
  if (sec.certFile) how.push('client certificate');
  return `kafka ${brokers.join(',')} (${how.filter(Boolean).join(', ')})`;
}

/** Kafka refused us for a reason retrying will not mend: wrong password, unknown CA, refused certificate, … */
export class KafkaAccessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KafkaAccessError';
  }
}

/**
 * The one-line fix for a Kafka connection error that retrying will not mend, or undefined
 * when the error may pass (nothing listening yet, a timeout).
 */
export function explainKafkaError(
  err: unknown,
  brokers: readonly string[],
  sec: KafkaSecurity,
): string | undefined {
  const E = KAFKA_SECURITY_ENV;
  const { codes, messages } = errorCodes(err);
  const failure = tlsFailureOf(err);
  const text = messages.join(' | ');
  const where = describeKafka(brokers, sec);
  if (
    /SASL .*authentication failed|Authentication failed during authentication|invalid credentials/i.test(text)
  )
    return `${where}: authentication failed: check ${E.username} and the password in ${E.passwordFile}${sec.sasl ? ` (${sec.sasl.passwordFile})` : ''}, and that the broker has a ${sec.sasl?.mechanism ?? 'SASL'} credential for this user`;
  if (/mechanism .*not supported|UNSUPPORTED_SASL_MECHANISM|not enabled/i.test(text) && sec.sasl)
    return `${where}: the broker does not offer ${sec.sasl.mechanism} on this listener: set ${E.mechanism} to one it enables (sasl.enabled.mechanisms)`;
  if (failure === 'unknownCa')
    return `${where}: the broker's certificate is not signed by a CA in ${E.caFile}${sec.caFile ? ` (${sec.caFile})` : ' (none given: the system CAs were used)'}: name the CA that issued the broker's certificate`;
  if (failure === 'serverExpired')
    return `${where}: the broker's certificate has expired or is not valid yet: renew it on the broker`;
  if (failure === 'wrongName')
    return `${where}: the broker's certificate does not name the host dialled: set ${E.serverName} to a name the certificate holds, or use that name in KAFKA_BROKERS`;
  if (failure === 'clientRefused')
    return `${where}: the broker refused the client certificate (${sec.certFile ? 'unknown issuer, expired or wrong' : 'none was sent'}): set ${E.certFile} and ${E.keyFile} to a certificate the broker's truststore trusts`;
  if (failure === 'notTls')
    return `${where}: the listener does not speak TLS: use ${E.protocol}=${sec.sasl ? 'SASL_PLAINTEXT' : 'PLAINTEXT'} or the broker's TLS port`;
  if (sec.sasl && codes.some((c) => c === 'ILLEGAL_SASL_STATE' || c === 'UNSUPPORTED_SASL_MECHANISM'))
    return `${where}: the listener does not take ${sec.sasl.mechanism}: set ${E.mechanism} to one it enables, or, if it takes no SASL, ${E.protocol}=${sec.protocol === 'SASL_SSL' ? 'SSL' : 'PLAINTEXT'}`;
  if (failure === 'badLocalFiles')
    return `${where}: the client key or certificate cannot be used: check ${E.certFile}, ${E.keyFile} (and ${E.keyPasswordFile} for an encrypted key)`;
  return undefined;
}

/** Whether `host:port` completes a TLS handshake (certificates not checked): tells "this listener wants TLS". */
export function speaksTls(hostPort: string, timeoutMs = 3000): Promise<boolean> {
  const i = hostPort.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: hostPort.slice(0, i),
      port: Number(hostPort.slice(i + 1)),
      rejectUnauthorized: false,
    });
    const done = (v: boolean) => {
      socket.destroy();
      resolve(v);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Connects once to the brokers with `sec` and no retries: throws a KafkaAccessError with the
 * one-line fix when the brokers refuse us for good (within ~12 s), resolves when they answer or the
 * failure may pass (the normal retries then take over).
 */
export async function checkKafkaAccess(
  brokers: readonly string[],
  sec: KafkaSecurity,
  timeoutMs = 12_000,
): Promise<void> {
  const kafka = new Kafka({
    clientId: 'autoglm-access-check',
    brokers: [...brokers],
    ...kafkajsSecurityOptions(sec),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5000,
    authenticationTimeout: 5000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin({ retry: { retries: 0 } });
  let failure: unknown;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      admin.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
      }),
    ]);
  } catch (err) {
    failure = err;
  } finally {
    clearTimeout(timer);
    await admin.disconnect().catch(() => undefined);
  }
  if (failure === undefined) return;
  const line = explainKafkaError(failure, brokers, sec);
  if (line) throw new KafkaAccessError(line);
  const usesTls = sec.protocol === 'SSL' || sec.protocol === 'SASL_SSL';
  const refused = errorCodes(failure).codes.includes('ECONNREFUSED');
  if (refused || !brokers[0]) return;
  const tlsListener = await speaksTls(brokers[0]);
  if (!usesTls && tlsListener)
    throw new KafkaAccessError(
      `${describeKafka(brokers, sec)}: the listener speaks TLS but the client does not: set ${KAFKA_SECURITY_ENV.protocol}=${sec.sasl ? 'SASL_SSL' : 'SSL'} and ${KAFKA_SECURITY_ENV.caFile}`,
    );
  if (usesTls && !tlsListener)
    throw new KafkaAccessError(
      `${describeKafka(brokers, sec)}: the listener does not speak TLS: set ${KAFKA_SECURITY_ENV.protocol}=${sec.sasl ? 'SASL_PLAINTEXT' : 'PLAINTEXT'}, or use the broker's TLS port`,
    );
}
