import fs from 'node:fs';

/**
 * Checks that `file` (named by the environment variable `envName`) is a readable, non-empty file;
 * returns the problem, naming the variable and the path, never the file's bytes.
 */
export function fileProblem(envName: string, file: string): string | undefined {
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) return `${envName}=${file}: not a file; name the file itself`;
    if (stat.size === 0) return `${envName}=${file}: the file is empty`;
    fs.accessSync(file, fs.constants.R_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `${envName}=${file}: no such file`;
    if (code === 'EACCES')
      return `${envName}=${file}: this process may not read it (check its owner and mode)`;
    return `${envName}=${file}: cannot read it (${code ?? 'error'})`;
  }
}

/** A secret kept in a file (a password, an API key): its text without the trailing newline editors add. */
export function readSecretFile(file: string): string {
  return fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
}

/** A truthy switch value ("true", "1", "yes", "on"), for the `*_INSECURE_*` switches. */
export function isOn(value: string | undefined): boolean {
  return value !== undefined && /^(?:1|true|yes|on)$/i.test(value.trim());
}

/** Node's TLS error codes, grouped by what the person starting the service has to fix. */
export const TLS_CODES = {
  /** The server's certificate does not chain to the CA we were given. */
  unknownCa: new Set([
    'SELF_SIGNED_CERT_IN_CHAIN',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'UNABLE_TO_GET_ISSUER_CERT',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'CERT_SIGNATURE_FAILURE',
  ]),
  serverExpired: new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']),
  wrongName: new Set(['ERR_TLS_CERT_ALTNAME_INVALID']),
  /** The server refused our client certificate (none sent, unknown issuer, expired, wrong use). */
  clientRefused: new Set([
    'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
    'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
    'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
    'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
    'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
    'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE',
    'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED',
    'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
    'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR',
    'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
  ]),
  /** The endpoint answered the TLS hello with something that is not TLS. */
  notTls: new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'EPROTO']),
  /** Our own key or certificate files are unusable. */
  badLocalFiles: new Set([
    'ERR_OSSL_PEM_NO_START_LINE',
    'ERR_OSSL_X509_KEY_VALUES_MISMATCH',
    'ERR_OSSL_EVP_BAD_DECRYPT',
    'ERR_OSSL_BAD_DECRYPT',
  ]),
} as const;

/** The error codes (and kafkajs types) and messages of `err` and its causes (kafkajs and gRPC wrap the socket's error). */
export function errorCodes(err: unknown): { codes: string[]; messages: string[] } {
  const codes: string[] = [];
  const messages: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && typeof e === 'object' && depth < 8; depth++) {
    const o = e as {
      code?: unknown;
      type?: unknown;
      message?: unknown;
      cause?: unknown;
      originalError?: unknown;
    };
    if (typeof o.code === 'string') codes.push(o.code);
    if (typeof o.type === 'string') codes.push(o.type);
    if (typeof o.message === 'string') messages.push(o.message);
    e = o.cause ?? o.originalError;
  }
  return { codes, messages };
}

/** OpenSSL's and Node's texts for the same failures, for errors that reach us as a message only (kafkajs's logs). */
const TLS_MESSAGES: Record<keyof typeof TLS_CODES, RegExp> = {
  unknownCa:
    /self[- ]signed certificate|unable to verify the first certificate|unable to get (?:local )?issuer certificate/i,
  serverExpired: /certificate has expired|certificate is not yet valid/i,
  wrongName: /does not match certificate's altnames/i,
  clientRefused:
    /alert (?:certificate required|bad certificate|unknown ca|certificate expired|certificate unknown|handshake failure|access denied)/i,
  notTls: /wrong version number|packet length too long/i,
  badLocalFiles: /no start line|key values mismatch|bad decrypt/i,
};

/** Which TLS failure `err` is (by its codes, or by its messages when it carries none), if any. */
export function tlsFailureOf(err: unknown): keyof typeof TLS_CODES | undefined {
  const { codes, messages } = errorCodes(err);
  const kinds = Object.keys(TLS_CODES) as Array<keyof typeof TLS_CODES>;
  const text = messages.join(' | ');
  return (
    kinds.find((k) => codes.some((c) => (TLS_CODES[k] as ReadonlySet<string>).has(c))) ??
    kinds.find((k) => TLS_MESSAGES[k].test(text))
  );
}
