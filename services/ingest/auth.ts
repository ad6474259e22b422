import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileStamp } from '../common/folder-poll.js';

/** How often a source's tokens file is looked at again for a change (rotation without restart). */
const RECHECK_MS = 2000;

/** Why a request was not authenticated: a 401 with this reason and message. */
export interface AuthRefusal {
  readonly reason: 'no_token' | 'wrong_token' | 'no_tokens_file';
  readonly message: string;
}

/**
 * Bearer tokens per source, from `<dir>/<source>.tokens` (one token a line, `#` comments; several
 * lines let a token be rotated). Files are re-read when they change; tokens are kept as sha256
 * digests and compared in constant time; no token is ever logged or echoed.
 */
export class TokenStore {
  private readonly files = new Map<string, { stamp: string; checkedAt: number; digests: Buffer[] }>();

  constructor(private readonly dir: string) {}

  /** Start-up problems: a tokens folder that cannot be read, a tokens file with no token. */
  problems(sources: readonly string[]): string[] {
    if (!this.dir) return [];
    try {
      if (!fs.statSync(this.dir).isDirectory())
        return [`AUTOGLM_INGEST_TOKENS_DIR=${this.dir}: not a folder`];
    } catch (err) {
      return [
        `AUTOGLM_INGEST_TOKENS_DIR=${this.dir}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      ];
    }
    const out: string[] = [];
    for (const s of sources) {
      const file = this.fileOf(s);
      if (!fs.existsSync(file)) continue;
      try {
        if (readTokens(file).length === 0) out.push(`${file}: has no token (one a line)`);
      } catch (err) {
        out.push(`${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    return out;
  }

  /** Undefined when `authorization` carries a token of `source`, else why not. */
  check(source: string, authorization: string | undefined, now = Date.now()): AuthRefusal | undefined {
    const digests = this.digestsOf(source, now);
    if (digests.length === 0) {
      return {
        reason: 'no_tokens_file',
        message: this.dir
          ? `source ${source} takes no request: put its bearer tokens in ${this.fileOf(source)} (one a line)`
          : `source ${source} takes no request: set AUTOGLM_INGEST_TOKENS_DIR to a folder with ${source}.tokens (one bearer token a line)`,
      };
    }
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
    if (!m) {
      return {
        reason: 'no_token',
        message: `no bearer token: send "Authorization: Bearer <token>" with a token from ${source}.tokens`,
      };
    }
    const given = sha256(m[1]!);
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, given) || ok;
    return ok
      ? undefined
      : { reason: 'wrong_token', message: `the bearer token is not one of ${source}'s tokens` };
  }

  private fileOf(source: string): string {
    return path.join(this.dir, `${source}.tokens`);
  }

  private digestsOf(source: string, now: number): Buffer[] {
    if (!this.dir) return [];
    const known = this.files.get(source);
    if (known && now - known.checkedAt < RECHECK_MS) return known.digests;
    const file = this.fileOf(source);
    const stamp = fileStamp(file);
    if (known && known.stamp === stamp) {
      known.checkedAt = now;
      return known.digests;
    }
    let digests: Buffer[] = [];
    try {
      digests = stamp === 'missing' ? [] : readTokens(file).map(sha256);
    } catch {
      // Unreadable now (a rotation half done): no token is accepted until it reads again.
    }
    this.files.set(source, { stamp, checkedAt: now, digests });
    return digests;
  }
}

function readTokens(file: string): string[] {
  return fs
    .readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
