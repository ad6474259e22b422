// One entity: each metric against its learned normal (the band is baseline ± k spreads, k the
// anomaly deviation), its deviation in spreads, and the decision / action / verdict /
// compensation marks of its remediations, over the chosen range, linked to the Temporal UI.
'use strict';

const params = new URLSearchParams(location.search);
const entity = params.get('id') || '';
const charts = new Map();
const COLORS = { decision: '#2650b8', action: '#1f7a3a', verdict: '#6a1b9a', compensation: '#b3261e' };
/** What each chart draws, for a look from outside (the browser test, a curious person in devtools). */
window.consoleCharts = {};

function markerPlugin(getMarkers) {
  return {
    hooks: {
      draw: (u) => {
        const ctx = u.ctx;
        for (const m of getMarkers()) {
          const x = u.valToPos(m.ts, 'x', true);
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
          ctx.save();
          ctx.strokeStyle = COLORS[m.kind];
          ctx.lineWidth = 2;
          ctx.setLineDash(m.kind === 'decision' ? [4, 3] : []);
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.restore();
        }
      },
    },
  };
}

function drawMetric(name, series, times, k, markers, width) {
  const lo = series.baseline.map((b, i) =>
    b === null || series.spread[i] === null ? null : b - k * series.spread[i],
  );
  const hi = series.baseline.map((b, i) =>
    b === null || series.spread[i] === null ? null : b + k * series.spread[i],
  );
  const dev = series.values.map((v, i) =>
    v === null || series.baseline[i] === null || !series.spread[i]
      ? null
      : (v - series.baseline[i]) / series.spread[i],
  );
  const data = [times, series.values, series.baseline, lo, hi, dev];
  const count = (a) => a.filter((x) => x !== null).length;
  window.consoleCharts[name] = {
    times,
    values: series.values,
    baseline: series.baseline,
    lo,
    hi,
    deviation: dev,
    markers,
  };
  let c = charts.get(name);
  if (c) {
    c.markers = markers;
    c.plot.setData(data);
  } else {
    const holder = el(
      'div',
      { class: 'chart', 'data-metric': name },
      el(
        'div',
        {},
        el('b', {}, name),
        el(
          'span',
          { class: 'muted' },
          ` value, normal band (baseline ± ${k} spreads), deviation (right axis, spreads)`,
        ),
      ),
    );
    document.getElementById('charts').append(holder);
    c = { markers, holder };
    c.plot = new uPlot(
      {
        width,
        height: 220,
        ms: 1,
        scales: { dev: { auto: true } },
        series: [
          {},
          { label: name, stroke: '#1d2330', width: 2, spanGaps: false },
          { label: 'baseline', stroke: '#7a8699', dash: [6, 4] },
          { label: `-${k}σ`, stroke: '#9cc4ff' },
          { label: `+${k}σ`, stroke: '#9cc4ff' },
          { label: 'deviation', stroke: '#e0a040', scale: 'dev', width: 1 },
        ],
        bands: [{ series: [4, 3], fill: 'rgba(120,170,255,0.18)' }],
        axes: [{}, { size: 50 }, { scale: 'dev', side: 1, grid: { show: false }, size: 40 }],
        plugins: [markerPlugin(() => c.markers)],
      },
      data,
      holder,
    );
    charts.set(name, c);
  }
  c.holder.dataset.points = String(count(series.values));
  c.holder.dataset.band = String(count(hi));
  c.holder.dataset.markers = markers.map((m) => m.kind).join(',');
}

async function load() {
  const range = document.getElementById('range').value;
  const data = await getJson(`/api/entity?id=${encodeURIComponent(entity)}&range=${range}`);
  document.getElementById('status').textContent = data.chart
    ? `a point is ${Math.round(data.chart.widthMs / 1000)} s (the sample furthest from the normal in it)`
    : 'no observations of this entity in the range';
  const width = Math.min(document.getElementById('charts').clientWidth - 20, 1100);
  if (data.chart) {
    for (const [name, series] of Object.entries(data.chart.metrics))
      drawMetric(name, series, data.chart.times, data.k, data.markers, width);
  }
  fill(
    'markers',
    data.markers
      .slice()
      .reverse()
      .map((m) =>
        el(
          'li',
          { class: `m-${m.kind}`, 'data-kind': m.kind },
          `${clock(m.ts)} ${m.kind}: ${m.label} `,
          m.workflowId ? temporalLink(m.workflowId, m.url) : null,
        ),
      ),
  );
  const g = data.guard;
  fill(
    'guard',
    !g
      ? el('p', { class: 'muted' }, 'idle: nothing in flight, no cooldown')
      : el(
          'ul',
          {},
          g.holders.map((h) =>
            el('li', {}, `in flight: ${h.holder} (${h.rule}: ${h.action}) since ${clock(h.since)}`),
          ),
          g.cooldowns.map((c) =>
            el(
              'li',
              { class: 'wait' },
              `cooldown of rule ${c.rule} until ${clock(c.until)}: a new incident now is absorbed`,
            ),
          ),
          g.recentDenials
            .slice(-3)
            .map((d) => el('li', { class: 'muted' }, `absorbed: ${d.holder}: ${d.reason}`)),
        ),
  );
  fill(
    'remediations',
    data.remediations
      .slice()
      .reverse()
      .map((r) =>
        el(
          'tr',
          { 'data-workflow': r.workflowId },
          el('td', {}, temporalLink(r.workflowId, r.url)),
          el('td', {}, r.outcome || r.phase),
          el('td', { class: 'wait' }, r.waitingFor || ''),
        ),
      ),
  );
  document.body.dataset.ready = 'true';
}

document.getElementById('title').textContent = entity;
document.title = `autoglm console: ${entity}`;
document.getElementById('range').addEventListener('change', () => {
  for (const c of charts.values()) c.holder.remove();
  charts.clear();
  void load();
});
void load();
setInterval(() => void load(), 2000);
