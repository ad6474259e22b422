// Which URLs the http actuator may call, and how a URL may appear in logs, errors and evidence.
// Pure: no I/O, no DNS. Origins are compared after WHATWG parsing, so every spelling of one
// address (2130706433, 0x7f.1, 017700000001 → 127.0.0.1; upper-case hosts; default ports)
// is compared in its normal form.

const ALLOWED_SCHEMES = new Set(['http:', 'https:']);
const UNPARSEABLE = '[unparseable URL]';

function parse(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/**
 * Normalises AUTOGLM_HTTP_ALLOWED_ORIGINS entries to WHATWG origins; every bad entry is a problem
 * naming the entry and the fix, so start-up can list them all at once.
 */
export function parseAllowedOrigins(
  entries: readonly string[],
  /** What an entry is called in a problem. */
  what = 'AUTOGLM_HTTP_ALLOWED_ORIGINS entry',
): { origins: string[]; problems: string[] } {
  const origins = new Set<string>();
  const problems: string[] = [];
  const fix = 'write an origin such as https://ops.example.com or http://127.0.0.1:8090';
  for (const entry of entries) {
    const u = parse(entry);
    const shown = JSON.stringify(u ? redactUrl(entry) : redactText(entry));
    const why = !u
      ? 'is not a URL'
      : !ALLOWED_SCHEMES.has(u.protocol)
        ? `has scheme ${u.protocol} (only http: and https:)`
        : u.username || u.password
          ? 'carries credentials (put them in AUTOGLM_HTTP_HEADERS_FILE)'
          : u.pathname !== '/' || /[?#]/.test(entry)
            ? 'has a path, query or fragment'
            : undefined;
    if (why) problems.push(`${what} ${shown} ${why}: ${fix}`);
    else origins.add(u!.origin);
  }
  return { origins: [...origins], problems };
}

/**
 * Says why the http actuator must not call `url` (undefined when it may): checked before any
 * request so nothing leaves the process for a refused URL. The URL is shown redacted.
 */
export function checkHttpUrl(url: string, origins: readonly string[]): string | undefined {
  const u = parse(url);
  const refused = `refused URL ${redactUrl(url)}`;
  if (!u) return `${refused}: not a valid absolute URL`;
  if (!ALLOWED_SCHEMES.has(u.protocol))
    return `${refused}: scheme ${u.protocol} is not allowed (http: or https: only)`;
  if (u.username || u.password)
    return `${refused}: the URL carries credentials; put credentials in AUTOGLM_HTTP_HEADERS_FILE instead`;
  // The URL travels verbatim in decisions, workflow memos and history, where a query's token would
  // stay readable; the act step needs it whole, so it cannot be redacted there: refused instead.
  if (u.search !== '' || u.hash !== '' || /[?#]/.test(url))
    return `${refused}: the URL has a query or fragment, which decisions and workflow history would carry; put credentials in AUTOGLM_HTTP_HEADERS_FILE and parameters in the rule's args`;
  if (!origins.includes(u.origin)) {
    const allowed = origins.length > 0 ? origins.join(', ') : 'none';
    return `${refused}: origin ${u.origin} is not in AUTOGLM_HTTP_ALLOWED_ORIGINS (allowed: ${allowed})`;
  }
  return undefined;
}

/**
 * The URL without userinfo, query or fragment (these carry secrets: passwords, tokens, signed
 * links), safe to log. Schemes without a host (data:, javascript:) show no content at all.
 */
export function redactUrl(url: string): string {
  const u = parse(url);
  if (!u) return UNPARSEABLE;
  if (u.host === '' && u.protocol !== 'file:') return `${u.protocol}[redacted]`;
  return `${u.protocol}//${u.host}${u.pathname}`;
}

// scheme://… up to whitespace or a quote, not ending in punctuation that belongs to the sentence.
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]*[^\s"'<>`.,;:!?)\]]/gi;

/** `text` with every URL-looking substring redacted, for error messages from libraries (fetch). */
export function redactText(text: string): string {
  return text.replace(URL_IN_TEXT, (match) => redactUrl(match));
}

// `userinfo@` before a host outside a URL (a broker list such as user:pw@kafka:9092).
const USERINFO = /[^\s"',;/@]+@(?=[^\s"',;/@])/g;

/**
 * `text` with every URL redacted (redactText) and any other `user:password@` before a host
 * replaced, for settings echoed in configuration errors (KAFKA_BROKERS, TEMPORAL_ADDRESS).
 */
export function redactCredentials(text: string): string {
  return redactText(text).replace(USERINFO, '[redacted]@');
}
