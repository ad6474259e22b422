// The console's front page: the loop live (server-sent events), remediations in flight with what
// they wait for and, when approvals are on, an approve/reject form; incidents and their stages,
// entities, the fleet budget, per-rule activity, the scorecard. Reads the JSON API only.
'use strict';

let overview = null;
const forms = new Map();

function liveLine(e) {
  const text = el('span', {}, ` ${e.entity}: ${e.text}`);
  return el(
    'div',
    { 'data-kind': e.kind },
    el('span', { class: 'muted' }, clock(e.ts), ' '),
    el('span', { class: `kind k-${e.kind}` }, e.kind),
    text,
    e.url ? [' ', temporalLink('Temporal', e.url)] : null,
  );
}

function addLive(e) {
  const box = document.getElementById('live');
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  box.append(liveLine(e));
  while (box.childElementCount > 300) box.firstElementChild.remove();
  if (atBottom) box.scrollTop = box.scrollHeight;
}

function approvalForm(r) {
  if (forms.has(r.workflowId)) return forms.get(r.workflowId);
  const out = el('span', { class: 'result' });
  const send = async (approve, form) => {
    const data = new FormData(form);
    out.textContent = '…';
    out.className = 'result';
    const res = await fetch('/api/approval', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-autoglm-console-token': document.getElementById('token').value,
      },
      body: JSON.stringify({
        workflowId: r.workflowId,
        approve,
        by: data.get('by'),
        reason: data.get('reason'),
      }),
    });
    const body = await res.json().catch(() => ({}));
    const said = res.ok
      ? `${r.workflowId}: ${approve ? 'approved' : 'rejected'} by ${data.get('by')}; phase now ${body.phase}`
      : body.error || res.statusText;
    out.className = `result ${res.ok ? 'ok' : 'error'}`;
    out.textContent = said;
    // Said again above the table: the form goes once the remediation stops waiting.
    const notice = document.getElementById('notice');
    notice.className = res.ok ? 'ok' : 'error';
    notice.textContent = said;
    if (res.ok) setTimeout(refresh, 300);
  };
  const form = el(
    'form',
    { class: 'approval', 'data-workflow': r.workflowId },
    el('input', { name: 'by', placeholder: 'who', autocomplete: 'off' }),
    el('input', { name: 'reason', placeholder: 'why', autocomplete: 'off' }),
    el('button', { type: 'submit', name: 'approve', value: 'yes' }, 'approve'),
    el('button', { type: 'submit', name: 'reject', value: 'no' }, 'reject'),
    out,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void send(ev.submitter ? ev.submitter.name === 'approve' : true, form);
  });
  forms.set(r.workflowId, form);
  return form;
}

function renderInFlight() {
  document.getElementById('approvals-note').textContent = overview.approvals
    ? 'Approvals are on: a remediation waiting for approval can be answered here with the console token, who and why.'
    : 'Read-only: set AUTOGLM_CONSOLE_TOKEN_FILE to answer approvals here; otherwise use autoglm approve|reject.';
  document.getElementById('token-box').hidden = !overview.approvals;
  fill(
    'inflight',
    overview.inFlight.map((r) => {
      const waiting =
        r.phase === 'awaiting-approval'
          ? el(
              'div',
              {},
              el(
                'div',
                { class: 'wait' },
                `waiting for approval: autoglm approve ${r.workflowId} --reason …`,
              ),
              el(
                'div',
                { class: 'muted' },
                `who may answer: ${r.mayAnswer || 'anyone allowed to signal the workflow'}${r.policy ? `; ${r.policy}` : ''}`,
              ),
              overview.approvals ? approvalForm(r) : null,
            )
          : el('span', { class: 'wait' }, r.waitingFor || '');
      return el(
        'tr',
        { 'data-workflow': r.workflowId, 'data-phase': r.phase },
        el('td', {}, temporalLink(r.workflowId, r.url)),
        el('td', {}, el('a', { href: `/entity?id=${encodeURIComponent(r.entity)}` }, r.entity)),
        el('td', {}, r.rule),
        el('td', {}, r.action),
        el('td', {}, r.incidentClass ? `${r.incidentClass} ${r.confidence.toFixed(2)}` : '—'),
        el('td', {}, el('span', { class: 'stage' }, r.phase)),
        el('td', {}, waiting),
      );
    }),
  );
  fill(
    'settled',
    overview.settled
      .slice()
      .reverse()
      .map((r) =>
        el(
          'tr',
          { 'data-workflow': r.workflowId },
          el('td', {}, temporalLink(r.workflowId, r.url)),
          el('td', {}, el('span', { class: 'stage done' }, r.outcome || r.phase)),
          el('td', { class: 'muted' }, r.approvedBy || r.reason || ''),
        ),
      ),
  );
}

function renderIncidents() {
  fill(
    'incidents',
    overview.incidents
      .slice()
      .reverse()
      .map((i) =>
        el(
          'tr',
          { 'data-incident': i.id, 'data-stage': i.stage },
          el('td', {}, i.id),
          el('td', {}, i.class),
          el('td', {}, el('a', { href: `/entity?id=${encodeURIComponent(i.entity)}` }, i.entity)),
          el('td', {}, el('span', { class: `stage ${i.stage === 'settled' ? 'done' : ''}` }, i.stage)),
        ),
      ),
  );
}

function entityList(ids) {
  return ids.map((x) =>
    el(
      'li',
      {},
      el('a', { href: `/entity?id=${encodeURIComponent(x.entity)}` }, x.entity),
      x.deviation ? el('span', { class: 'muted' }, ` ${x.deviation.toFixed(1)} spreads off`) : '',
    ),
  );
}

function renderBudget() {
  const b = overview.budget;
  if (!b)
    return fill(
      'budget',
      el('p', { class: 'muted' }, 'the fleet budget is idle (nothing in flight, nothing waiting)'),
    );
  const limits = b.limits
    ? `${b.grantsInPeriod ?? 0}/${b.limits.maxActionsPerPeriod} actions in the period; at most ${b.limits.maxConcurrentPerAction} at once per action, ${b.limits.maxConcurrentPerRule} per rule`
    : '';
  fill(
    'budget',
    el('p', {}, `${b.holders.length} in flight, ${b.deferred.length} deferred. ${limits}`),
    el(
      'ul',
      {},
      b.holders.map((h) =>
        el('li', {}, `in flight: ${h.holder} (${h.rule}: ${h.action}) since ${clock(h.since)}`),
      ),
    ),
    el(
      'ul',
      {},
      b.deferred.map((d) =>
        el('li', { class: 'wait' }, `deferred: ${d.holder} (${d.rule}: ${d.action}): ${d.reason}`),
      ),
    ),
    el(
      'ul',
      {},
      b.recentDenials.slice(-5).map((d) => el('li', { class: 'muted' }, `denied: ${d.holder}: ${d.reason}`)),
    ),
  );
}

function render() {
  document.getElementById('status').textContent =
    `${overview.entities.count} entities, range ${Math.round(overview.limits.rangeMs / 60000)} min`;
  if (overview.temporalUi)
    fill(
      'temporal',
      el('a', { href: overview.temporalUi, target: '_blank', rel: 'noopener noreferrer' }, 'Temporal UI'),
    );
  renderInFlight();
  renderIncidents();
  renderBudget();
  document.getElementById('entity-count').textContent =
    `${overview.entities.count} entities; the furthest from their normal first`;
  if (!document.getElementById('entity-search').value)
    fill('entities', entityList(overview.entities.top.slice(0, 30)));
}

async function refresh() {
  overview = await getJson('/api/overview');
  render();
}

const ruleCharts = new Map();
async function renderRules() {
  const { bucketMs, rules } = await getJson('/api/rules');
  const box = document.getElementById('rules');
  for (const [rule, buckets] of Object.entries(rules)) {
    const t = buckets.map((b) => b.t);
    const data = [
      t,
      ...['decisions', 'actions', 'verified', 'failed', 'falsePositives'].map((k) =>
        buckets.map((b) => b[k]),
      ),
    ];
    let chart = ruleCharts.get(rule);
    if (!chart) {
      const holder = el(
        'div',
        { class: 'chart', 'data-rule': rule },
        el('div', {}, rule, el('span', { class: 'muted' }, ` per ${Math.round(bucketMs / 1000)} s`)),
      );
      box.append(holder);
      const colors = ['#2650b8', '#1f7a3a', '#6a1b9a', '#b3261e', '#a15c00'];
      chart = new uPlot(
        {
          width: Math.min(box.clientWidth - 20, 900),
          height: 140,
          ms: 1,
          series: [
            {},
            ...['decisions', 'actions', 'verified', 'failed', 'false positives'].map((label, i) => ({
              label,
              stroke: colors[i],
              width: 2,
              paths: uPlot.paths.stepped({ align: 1 }),
            })),
          ],
          axes: [{}, { size: 30 }],
        },
        data,
        holder,
      );
      ruleCharts.set(rule, chart);
    } else chart.setData(data);
  }
}

async function renderScorecard() {
  const card = await getJson('/api/scorecard');
  if (!card)
    return fill(
      'scorecard',
      el('p', { class: 'muted' }, 'no fleet simulator in this run: no ground truth to score against'),
    );
  const cols = Object.keys(card.total);
  const cell = (v) =>
    typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(0) : v === null ? '—' : String(v);
  fill(
    'scorecard',
    el(
      'table',
      { id: 'scorecard-table' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          cols.map((c) => el('th', {}, c)),
        ),
      ),
      el(
        'tbody',
        {},
        [...card.rows, card.total].map((r) =>
          el(
            'tr',
            {},
            cols.map((c) => el('td', {}, cell(r[c]))),
          ),
        ),
      ),
    ),
  );
}

document.getElementById('entity-search').addEventListener('input', async (ev) => {
  const q = ev.target.value;
  if (!q) return fill('entities', entityList(overview.entities.top.slice(0, 30)));
  const { entities } = await getJson(`/api/entities?q=${encodeURIComponent(q)}`);
  fill('entities', entityList(entities.map((entity) => ({ entity }))));
});

(async () => {
  await refresh();
  for (const e of overview.events) addLive(e);
  let last = overview.events.length ? overview.events[overview.events.length - 1].seq : 0;
  // Since the navigation began: the page, its scripts and the first answer of the API.
  document.body.dataset.loadedMs = String(Math.round(performance.now()));
  document.body.dataset.ready = 'true';
  const source = new EventSource('/events');
  let pending = null;
  source.onopen = () => (document.getElementById('status').dataset.live = 'true');
  source.onmessage = (m) => {
    const e = JSON.parse(m.data);
    if (e.seq <= last) return;
    last = e.seq;
    addLive(e);
    if (!pending)
      pending = setTimeout(() => {
        pending = null;
        void refresh();
      }, 500);
  };
  setInterval(() => void refresh(), 2000);
  void renderRules();
  void renderScorecard();
  setInterval(() => void renderRules(), 10000);
  setInterval(() => void renderScorecard(), 10000);
})();
