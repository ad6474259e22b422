/**
 * The pagerduty outlet against a local stand-in of the Events API v2 (PagerDuty is a service we do
 * not own): the stand-in checks each request's shape as the API documents it and answers 202 or
 * 400 the way it does. An escalated verdict triggers with dedup_key = the workflow id; the
 * entity's next verified verdict resolves it; the routing key comes from a file and never shows.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OutletError } from '../../services/actuators/outlet-http.js';
import { PagerDuty } from '../../services/actuators/pagerduty.js';
import { signatureProblem } from '../../services/actuators/signature.js';
import type { Verdict } from '../../services/common/contracts.js';

const ROUTING_KEY = 'R0UT1NGKEY0123456789abcdefABCDEF';
const HMAC = Buffer.from('0123456789abcdef0123456789abcdef');
const SEVERITIES = new Set(['critical', 'error', 'warning', 'info']);

/** What the Events API v2 refuses: the problems of one event, [] when it is well formed. */
function eventProblems(e: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (typeof e.routing_key !== 'string' || e.routing_key.length !== 32)
    problems.push('routing_key: 32 characters');
  if (!['trigger', 'acknowledge', 'resolve'].includes(String(e.event_action))) problems.push('event_action');
  if (typeof e.dedup_key !== 'string' || e.dedup_key.length === 0 || e.dedup_key.length > 255)
    problems.push('dedup_key: 1..255 characters');
  if (e.event_action === 'trigger') {
    const p = e.payload as Record<string, unknown> | undefined;
    if (!p) problems.push('payload is required for trigger');
    else {
      if (typeof p.summary !== 'string' || p.summary.length === 0 || p.summary.length > 1024)
        problems.push('payload.summary: 1..1024 characters');
      if (typeof p.source !== 'string' || !p.source) problems.push('payload.source');
      if (!SEVERITIES.has(String(p.severity))) problems.push('payload.severity');
    }
  }
  return problems;
}

describe('pagerduty outlet (Events API v2 shape, local stand-in)', () => {
  const received: Record<string, unknown>[] = [];
  const badSignatures: string[] = [];
  let server: http.Server;
  let url: string;
  let dir: string;
  let keyFile: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-pd-'));
    keyFile = path.join(dir, 'routing.key');
    fs.writeFileSync(keyFile, `${ROUTING_KEY}\n`, { mode: 0o600 });
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        const why = signatureProblem(
          HMAC,
          {
            method: req.method ?? '',
            path: req.url ?? '',
            body,
            timestamp: req.headers['x-autoglm-timestamp'] as string,
            signature: req.headers['x-autoglm-signature'] as string,
          },
          Date.now(),
          60_000,
        );
        if (why) badSignatures.push(why);
        const event = JSON.parse(body) as Record<string, unknown>;
        const problems =
          req.headers['content-type'] === 'application/json' ? eventProblems(event) : ['content-type'];
        res.writeHead(problems.length ? 400 : 202, { 'content-type': 'application/json' });
        if (problems.length)
          res.end(
            JSON.stringify({ status: 'invalid event', message: 'Event object is invalid', errors: problems }),
          );
        else {
          received.push(event);
          res.end(
            JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: event.dedup_key }),
          );
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/enqueue`;
  });
  after(() => {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const pager = () =>
    new PagerDuty({
      url,
      routingKeyFile: keyFile,
      http: { allowedOrigins: [new URL(url).origin], timeoutMs: 2000, hmacKey: HMAC },
    });
  const verdict = (over: Partial<Verdict>): Verdict => ({
    decisionId: 'd-1',
    workflowId: 'remediate-d-1',
    entity: 'checkout/pod-1',
    rule: 'memory-leak-restart',
    action: 'restart',
    outcome: 'failed',
    evidence: { escalation: { action: 'page', ok: true } },
    ts: Date.now(),
    ...over,
  });

  it('triggers an escalated verdict with dedup_key = the workflow id, and resolves it on the next verified one', async () => {
    received.length = 0;
    const pd = pager();
    assert.deepEqual(await pd.onVerdict(verdict({})), ['trigger']);
    assert.equal(received.length, 1);
    const trigger = received[0]!;
    assert.equal(trigger.event_action, 'trigger');
    assert.equal(trigger.dedup_key, 'remediate-d-1');
    assert.equal(trigger.routing_key, ROUTING_KEY);
    const payload = trigger.payload as Record<string, unknown>;
    assert.equal(payload.source, 'checkout/pod-1');
    assert.equal(payload.severity, 'critical');
    assert.match(String(payload.summary), /restart on checkout\/pod-1 .* ended failed/);
    // Another entity's verified verdict resolves nothing; this entity's resolves the trigger.
    assert.deepEqual(
      await pd.onVerdict(verdict({ entity: 'search/pod-2', outcome: 'verified', evidence: {} })),
      [],
    );
    const later = verdict({
      workflowId: 'remediate-d-2',
      decisionId: 'd-2',
      outcome: 'verified',
      evidence: {},
    });
    assert.deepEqual(await pd.onVerdict(later), ['resolve']);
    assert.deepEqual(received[1], {
      routing_key: ROUTING_KEY,
      event_action: 'resolve',
      dedup_key: 'remediate-d-1',
    });
    // Resolved once: a second verified verdict sends nothing more.
    assert.deepEqual(await pd.onVerdict(later), []);
    assert.equal(received.length, 2);
    assert.deepEqual(badSignatures, []);
  });

  it("carries the decision's runbook sections: in custom_details, and as links when they are web addresses", async () => {
    received.length = 0;
    const runbooks = [
      {
        title: 'Memory leak › Restart',
        runbook: 'memory-leak',
        link: 'https://wiki.example/rb/memory-leak#restart',
        score: 7.5,
      },
      {
        title: 'Memory leak › Heap dump',
        runbook: 'memory-leak',
        link: 'runbooks/memory-leak.md#heap-dump',
        score: 3.1,
      },
    ];
    await pager().onVerdict(verdict({ workflowId: 'remediate-rb', runbooks }));
    assert.equal(received.length, 1);
    const trigger = received[0]!;
    assert.deepEqual(eventProblems(trigger), []);
    assert.deepEqual(
      (trigger.payload as { custom_details: { runbooks: string[] } }).custom_details.runbooks,
      [
        'Memory leak › Restart: https://wiki.example/rb/memory-leak#restart',
        'Memory leak › Heap dump: runbooks/memory-leak.md#heap-dump',
      ],
    );
    assert.deepEqual(trigger.links, [
      { href: 'https://wiki.example/rb/memory-leak#restart', text: 'Memory leak › Restart' },
    ]);
    // Without runbooks, neither is sent.
    const plain = pager().triggerOf(verdict({}));
    assert.equal('links' in plain, false);
    assert.equal('runbooks' in plain.payload!.custom_details!, false);
  });

  it('pages nothing for a verdict that did not escalate', async () => {
    received.length = 0;
    assert.deepEqual(
      await pager().onVerdict(verdict({ outcome: 'absorbed', evidence: { reason: 'busy' } })),
      [],
    );
    assert.equal(received.length, 0);
  });

  it('fails with the API status when an event is refused, never quoting the routing key', async () => {
    const pd = pager();
    const event = pd.triggerOf(verdict({}));
    // A summary beyond the API's 1024 characters is cut, so it is accepted.
    assert.ok(pager().triggerOf(verdict({ entity: 'x'.repeat(2000) })).payload!.summary.length <= 1024);
    fs.writeFileSync(keyFile, 'short\n');
    try {
      await assert.rejects(pager().onVerdict(verdict({})), (err: unknown) => {
        assert.ok(err instanceof OutletError);
        assert.equal(err.status, 400);
        assert.doesNotMatch(err.message, /short/);
        return true;
      });
    } finally {
      fs.writeFileSync(keyFile, `${ROUTING_KEY}\n`);
    }
    assert.equal(event.routing_key, ROUTING_KEY);
  });

  it('refuses a routing key file that is missing or not one key, naming the file only', () => {
    assert.throws(
      () =>
        new PagerDuty({
          url,
          routingKeyFile: path.join(dir, 'nope'),
          http: { allowedOrigins: [new URL(url).origin], timeoutMs: 1000 },
        }),
      /AUTOGLM_PAGERDUTY_ROUTING_KEY_FILE=.*nope: cannot read it \(ENOENT\)/,
    );
    const two = path.join(dir, 'two.key');
    fs.writeFileSync(two, 'a b\n');
    assert.throws(
      () =>
        new PagerDuty({
          url,
          routingKeyFile: two,
          http: { allowedOrigins: [new URL(url).origin], timeoutMs: 1000 },
        }),
      /must hold the routing key alone on one line/,
    );
  });

  it('refuses a URL whose origin is not allowlisted, before any request', () => {
    const count = received.length;
    assert.throws(
      () =>
        new PagerDuty({
          url,
          routingKeyFile: keyFile,
          http: { allowedOrigins: ['https://ops.example.com'], timeoutMs: 1000 },
        }),
      /not in AUTOGLM_HTTP_ALLOWED_ORIGINS/,
    );
    assert.equal(received.length, count);
  });
});
