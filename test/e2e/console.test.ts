/**
 * The console in a real browser (Debian's chromium driven by playwright-core) against a real loop
 * on Kafka and Temporal with the fleet simulator, as `autoglm up` runs them: the page loads with no
 * console error; an injected incident appears with its stages; a remediation that waits for
 * approval shows who may answer, and the console refuses an answer without the token, from another
 * origin or without who and why, then approving from the page moves it on in Temporal; the entity
 * chart draws the metric, the normal band and the decision / action / verdict marks (a screenshot
 * is saved under test-artifacts/console/); no token or HMAC key is in any byte served. The first
 * load with 10,000 entities × 6 h of state is measured by bench/console-memory.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Registry } from 'prom-client';
import { waitUntil } from '../../infra/process.js';
import { createKafka } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import type { Service } from '../../services/common/service.js';
import { connectClient } from '../../services/common/temporal.js';
import { checkApprovalRequest, TOKEN_HEADER } from '../../services/console/approvals.js';
import { startConsole, type RunningConsole } from '../../services/console/main.js';
import { loadFleetConfig } from '../../services/fleet/fleet-config.js';
import { startFleet, type RunningFleet } from '../../services/fleet/main.js';
import { startLoop } from '../../services/loop.js';
import { statusQuery } from '../../workflows/definitions.js';
import { testConfig } from '../support/config.js';
import { fastCpuRule, writeRuleDir } from '../support/fast-loop.js';
import { deleteTopicsWithPrefix } from '../support/kafka.js';
import { terminateTestRuns } from '../support/temporal.js';

const ENTITY = 'checkout/pod-1';
const ARTIFACTS = path.resolve('test-artifacts', 'console');
const CHROMIUM = process.env.AUTOGLM_CHROMIUM ?? '/usr/bin/chromium';

/** The fast CPU rule, waiting for an operator's approval before it scales out. */
const cpu = fastCpuRule('e2e-console-cpu-approval', '60s');
const RULE = { ...cpu, event: { ...cpu.event, params: { ...cpu.event.params, approval: 'required' } } };

/** Posts an approval as a page (or another site) would, with the headers given. */
function postApproval(
  port: number,
  headers: Record<string, string>,
  body: unknown,
): Promise<{ status: number; body: { error?: string; phase?: string } }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: '/api/approval', method: 'POST', headers },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('the console in a browser, fed by a running loop', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-console-'));
  const logger = createLogger('warn');
  const rulesDir = writeRuleDir([RULE]);
  fs.mkdirSync(path.join(rulesDir, 'context'));
  fs.writeFileSync(
    path.join(rulesDir, 'context', 'catalog.json'),
    JSON.stringify({
      services: {
        checkout: {
          owner: 'team-checkout',
          tier: 1,
          labels: { oncall: 'checkout-primary' },
          entities: ['checkout/**'],
        },
      },
    }),
  );
  const hmacKey = `e2e-console-hmac-${randomBytes(16).toString('hex')}`;
  const token = randomBytes(24).toString('hex');
  const keyFile = path.join(home, 'hmac.key');
  const tokenFile = path.join(home, 'console.token');
  fs.writeFileSync(keyFile, hmacKey, { mode: 0o600 });
  fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const base = testConfig({ actuatorHmacKeyFile: keyFile });
  const same = {
    topicPrefix: base.topicPrefix,
    groupPrefix: base.groupPrefix,
    actTaskQueue: base.actTaskQueue,
    verifyTaskQueue: base.verifyTaskQueue,
    actuatorHmacKeyFile: keyFile,
  };
  const kafka = createKafka(base, logger);
  let fleet: RunningFleet;
  let loop: Service | undefined;
  let consoleApp: RunningConsole;
  let port: number;
  let client: Client;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const ctx = (config: typeof base) => ({ config, logger, registry: new Registry() });

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    fleet = await startFleet(
      ctx(base),
      loadFleetConfig(
        {},
        { services: '1', pods: '1', port: '0', scenarios: 'none', tick: '250ms', recovery: '2s' },
      ),
    );
    const config = testConfig({
      ...same,
      rulesDir,
      httpActuatorUrl: `${fleet.controlOrigin}/actuate`,
      temporalUiUrl: 'http://127.0.0.1:8233',
      consoleTokenFile: tokenFile,
      consoleRange: '15m',
      consolePoints: '900',
      // A new baseline learns everything for a while (AUTOGLM_BASELINE_LEARN, 2 days): here it freezes on the incident at once.
      baselineLearn: '1s',
    });
    loop = await startLoop(ctx(config));
    client = await connectClient(config);
    const model = fleet.model;
    consoleApp = await startConsole(ctx(config), {
      fleet: { incidents: () => model.incidents(), actionsSince: (s) => model.actionsSince(s) },
    });
    port = await consoleApp.listen('127.0.0.1', 0);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('response', (r) => {
      if (r.status() >= 400) pageErrors.push(`${r.status()} ${r.url()}`);
    });
  });

  after(async () => {
    await browser?.close();
    await consoleApp?.stop();
    await fleet?.stop();
    await loop?.stop();
    if (client) await terminateTestRuns(client, base.topicPrefix, new Set([ENTITY]));
    await client?.connection.close();
    await deleteTopicsWithPrefix(kafka, base.topicPrefix);
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(rulesDir, { recursive: true, force: true });
  });

  const origin = () => `http://127.0.0.1:${port}`;

  it('loads with no console error and follows the loop live', async (t) => {
    const started = Date.now();
    await page.goto(`${origin()}/`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 10_000 });
    await page.waitForSelector('#status[data-live="true"]', { timeout: 10_000 });
    const inPage = await page.getAttribute('body', 'data-loaded-ms');
    t.diagnostic(
      `first load: ${inPage} ms from navigation to the first API answer drawn (${Date.now() - started} ms with the browser's new page)`,
    );
    assert.deepEqual(pageErrors, []);
  });

  it('shows an injected incident with its stages, the approval with who may answer, and approves from the page', async () => {
    // The band needs a warm baseline: wait for the entity's CPU normal before the incident, and for
    // 45 s of samples (180). A baseline only just warm learns at 1/samples: at 30 samples the 15 s
    // ramp, learned while under the freeze deviation, widened the spread fivefold (the band held it).
    const warm = await waitUntil(
      async () => {
        const cpu = consoleApp.state.series.chart(ENTITY, 0)?.metrics.cpu;
        return (
          cpu !== undefined &&
          cpu.baseline.some((b) => b !== null) &&
          cpu.values.filter((v) => v !== null).length >= 45
        );
      },
      90_000,
      250,
    );
    assert.ok(warm.ok, 'the console has the CPU baseline of the entity');
    const injected = fleet.model.inject({ class: 'cpu_saturation', entity: ENTITY }, Date.now());
    assert.ok(injected.ok);
    const row = `tr[data-incident="${injected.incident.id}"]`;
    await page.waitForSelector(row, { timeout: 15_000 });
    const stages = new Set<string>();
    const waiting = `#inflight tr[data-phase="awaiting-approval"]`;
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline && !(await page.$(waiting))) {
      const stage = await page.getAttribute(row, 'data-stage').catch(() => null);
      if (stage) stages.add(stage);
      await sleep(200);
    }
    stages.add((await page.getAttribute(row, 'data-stage')) ?? '');
    assert.ok(
      await page.$(waiting),
      `a remediation waits for approval (stages seen: ${[...stages].join(', ')})`,
    );
    assert.ok(
      stages.has('decided'),
      `the incident reached "decided" (stages seen: ${[...stages].join(', ')})`,
    );
    assert.ok(stages.has('injected') || stages.has('sensed'), [...stages].join(', '));
    const workflowId = (await page.getAttribute(waiting, 'data-workflow'))!;
    const text = await page.textContent(waiting);
    assert.match(text ?? '', /who may answer: owner team-checkout, on call checkout-primary/);
    assert.match(text ?? '', new RegExp(`autoglm approve ${workflowId} --reason`));
    const live = await page.textContent('#live');
    assert.match(live ?? '', /injected/);
    assert.match(live ?? '', /decided/);

    // Refusals: none of them reaches the workflow.
    const good = { 'content-type': 'application/json', origin: origin(), host: `127.0.0.1:${port}` };
    const answer = { workflowId, approve: true, by: 'mallory', reason: 'because' };
    const noToken = await postApproval(port, good, answer);
    assert.equal(noToken.status, 401);
    assert.match(noToken.body.error ?? '', /console token is required/);
    const wrongToken = await postApproval(port, { ...good, [TOKEN_HEADER]: 'x'.repeat(48) }, answer);
    assert.equal(wrongToken.status, 401);
    const otherSite = await postApproval(
      port,
      { ...good, origin: 'http://evil.example', [TOKEN_HEADER]: token },
      answer,
    );
    assert.equal(otherSite.status, 403);
    assert.match(otherSite.body.error ?? '', /own page/);
    const noOrigin = await postApproval(
      port,
      { 'content-type': 'application/json', [TOKEN_HEADER]: token },
      answer,
    );
    assert.equal(noOrigin.status, 403);
    const rebound = await postApproval(
      port,
      { ...good, host: 'evil.example', origin: 'http://evil.example', [TOKEN_HEADER]: token },
      answer,
    );
    assert.equal(rebound.status, 403, 'a DNS-rebound host is refused');
    const noWho = await postApproval(port, { ...good, [TOKEN_HEADER]: token }, { ...answer, by: ' ' });
    assert.equal(noWho.status, 400);
    assert.match(noWho.body.error ?? '', /"by" is blank/);
    const noWhy = await postApproval(
      port,
      { ...good, [TOKEN_HEADER]: token },
      { workflowId, approve: true, by: 'ops' },
    );
    assert.equal(noWhy.status, 400);
    assert.match(noWhy.body.error ?? '', /"reason" is required/);
    const readOnly = checkApprovalRequest(
      { headers: good } as unknown as http.IncomingMessage,
      '{}',
      undefined,
      () => true,
    );
    assert.equal(
      'status' in readOnly && readOnly.status,
      403,
      'a console without a token file refuses every approval',
    );
    // From the browser, another origin's page cannot post either (no CORS answer; the token header needs a preflight).
    const foreign = http.createServer((_, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end('<p>elsewhere</p>'),
    );
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
    const other = await browser.newPage();
    await other.goto(`http://localhost:${(foreign.address() as { port: number }).port}/`);
    const crossSite = await other.evaluate(
      async ({ url, body, header, token }) => {
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', [header]: token },
            body: JSON.stringify(body),
          });
          return `status ${res.status}`;
        } catch (e) {
          return `blocked: ${(e as Error).message}`;
        }
      },
      { url: `${origin()}/api/approval`, body: answer, header: TOKEN_HEADER, token },
    );
    await other.close();
    foreign.close();
    assert.match(crossSite, /^blocked/);
    const handle = client.workflow.getHandle(workflowId);
    const still = await handle.query(statusQuery);
    assert.equal(still.phase, 'awaiting-approval', 'no refused request reached the workflow');
    assert.equal(still.approval, undefined);
    assert.equal(still.refusedApprovals, undefined);

    // The ramp takes 15 s to its plateau (≥ 97%), the rule decides on the way up (avg > 85): on a
    // quick machine an answer before the plateau would end the saturation before the chart could hold it.
    const plateau = await waitUntil(
      async () =>
        (consoleApp.state.series.chart(ENTITY, 0)?.metrics.cpu?.values ?? []).some(
          (v) => v !== null && v > 95,
        ),
      30_000,
      250,
    );
    assert.ok(plateau.ok, 'the saturation reaches its plateau while the remediation waits for approval');

    // Approve from the page: token, who and why.
    await page.fill('#token', token);
    const form = `form[data-workflow="${workflowId}"]`;
    await page.fill(`${form} input[name=by]`, 'alice');
    await page.fill(`${form} input[name=reason]`, 'e2e: the rollout is understood');
    await page.click(`${form} button[name=approve]`);
    await page.waitForSelector('#notice.ok', { timeout: 15_000 });
    assert.match(
      (await page.textContent('#notice')) ?? '',
      new RegExp(`${workflowId}: approved by alice; phase now`),
    );
    const moved = await handle.query(statusQuery);
    assert.notEqual(moved.phase, 'awaiting-approval');
    assert.deepEqual(
      { approve: moved.approval?.approve, by: moved.approval?.by, reason: moved.approval?.reason },
      { approve: true, by: 'alice', reason: 'e2e: the rollout is understood' },
    );
    // The remediation acts and is verified; the page shows the incident settled.
    await page.waitForSelector(`${row}[data-stage="settled"]`, { timeout: 90_000 });
    const verdict = consoleApp.state.verdicts.find((v) => v.workflowId === workflowId);
    assert.equal(verdict?.outcome, 'verified', JSON.stringify(verdict?.evidence));
    assert.deepEqual(pageErrors, []);
  });

  it("draws the entity's metric, its normal band and the decision, action and verdict marks", async () => {
    await page.goto(`${origin()}/entity?id=${encodeURIComponent(ENTITY)}&x=1`);
    await page.selectOption('#range', '900000');
    const chart = '.chart[data-metric="cpu"]';
    // A function, not a string: Playwright evaluates a string expression again on every poll, which
    // the page's CSP (no 'unsafe-eval') refuses once the first poll finds the marks not drawn yet; a
    // function is evaluated once, by the first poll.
    await page.waitForFunction(
      (selector: string) => {
        type Doc = { querySelector(s: string): { dataset: Record<string, string | undefined> } | null };
        const doc = (globalThis as unknown as { document: Doc }).document;
        const markers = (doc.querySelector(selector)?.dataset.markers ?? '').split(',');
        return ['decision', 'action', 'verdict'].every((k) => markers.includes(k));
      },
      chart,
      { timeout: 20_000 },
    );
    const drawn = (await page.evaluate(`(() => {
      const c = window.consoleCharts.cpu;
      const nn = (a) => a.filter((x) => x !== null);
      const at = c.values.map((v, i) => [v, c.hi[i]]).filter(([v]) => v !== null);
      return { values: at.map(([v]) => v), hiAt: at.map(([, h]) => h), lo: nn(c.lo), hi: nn(c.hi), markers: c.markers.map((m) => m.kind) };
    })()`)) as { values: number[]; hiAt: (number | null)[]; lo: number[]; hi: number[]; markers: string[] };
    assert.ok(drawn.values.length >= 20, `${drawn.values.length} points of cpu`);
    assert.ok(Math.max(...drawn.values) > 95, 'the saturation is on the chart');
    assert.ok(drawn.hi.length >= 10 && drawn.lo.length === drawn.hi.length, 'the band is drawn');
    assert.ok(
      drawn.hi.every((h, i) => h > drawn.lo[i]!),
      'the band has a width',
    );
    assert.ok(
      drawn.values.some((v, i) => drawn.hiAt[i] !== null && v > drawn.hiAt[i]!),
      `the incident leaves the band (value/hi: ${drawn.values.map((v, i) => `${v.toFixed(1)}/${drawn.hiAt[i]?.toFixed(1)}`).join(' ')})`,
    );
    assert.equal(await page.locator(`${chart} canvas`).count(), 1);
    const links = await page.getAttribute('#markers li[data-kind="verdict"] a', 'href');
    assert.match(
      links ?? '',
      /^http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\/remediate-checkout%2Fpod-1-e2e-console-cpu-approval-/,
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'entity.png'), fullPage: true });
    assert.deepEqual(pageErrors, []);
  });

  it('serves no token, HMAC key or secret: pages, API and the event stream', async () => {
    const paths = [
      '/',
      `/entity?id=${encodeURIComponent(ENTITY)}`,
      '/static/common.js',
      '/static/index.js',
      '/static/entity.js',
      '/static/console.css',
      '/api/overview',
      `/api/entity?id=${encodeURIComponent(ENTITY)}`,
      '/api/entities?q=',
      '/api/rules',
      '/api/scorecard',
    ];
    let served = '';
    for (const p of paths) {
      const res = await fetch(`${origin()}${p}`);
      assert.equal(res.status, 200, p);
      served += await res.text();
    }
    // The event stream, while the loop goes on (a second incident feeds it).
    const controller = new AbortController();
    const stream = await fetch(`${origin()}/events`, { signal: controller.signal });
    const reader = stream.body!.getReader();
    fleet.model.inject({ class: 'memory_leak', entity: ENTITY }, Date.now());
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      const chunk = await Promise.race([reader.read(), sleep(until - Date.now()).then(() => undefined)]);
      if (!chunk || chunk.done) break;
      served += Buffer.from(chunk.value).toString('utf8');
    }
    controller.abort();
    assert.ok(served.length > 10_000, `${served.length} bytes read`);
    for (const secret of [token, hmacKey, tokenFile, keyFile])
      assert.equal(
        served.includes(secret),
        false,
        `a served byte holds ${secret === token ? 'the token' : secret}`,
      );
  });
});
