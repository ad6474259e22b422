import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Engine } from 'json-rules-engine';
import { repoRoot } from '../../infra/paths.js';
import type { Observation } from '../../services/common/contracts.js';
import {
  EMPTY_CONTEXT,
  NO_CONTEXT_FACTS,
  loadContextDir,
  parseContext,
} from '../../services/common/context/context-files.js';
import { factsFor } from '../../services/common/facts.js';
import { sampleFact, unknownFact } from '../../services/common/facts-reference.js';

const at = (iso: string) => Date.parse(iso);
const catalogOf = (services: unknown) => ({
  file: 'rules/context/catalog.json',
  text: JSON.stringify({ services }),
});
const windowsOf = (windows: unknown) => ({
  file: 'rules/context/maintenance.json',
  text: JSON.stringify({ windows }),
});
const SERVICES = {
  checkout: { owner: 'team-checkout', tier: 1, dependencies: ['payments'], labels: { domain: 'shop' } },
  payments: { owner: 'team-payments', tier: 1 },
};

/** The context of these files; fails the test on any problem. */
function contextOf(files: Parameters<typeof parseContext>[0]) {
  const { context, problems } = parseContext(files);
  assert.deepEqual(problems, []);
  return context;
}

/** The problems of these files; the context must then be the empty one. */
function problemsOf(files: Parameters<typeof parseContext>[0]): string[] {
  const { context, problems } = parseContext(files);
  assert.equal(context, EMPTY_CONTEXT);
  return problems;
}

/** Whether a window on every entity, timed by `every`, is open at each instant. */
function openAt(every: Record<string, unknown>, instants: string[]): boolean[] {
  const context = contextOf({
    maintenance: windowsOf([{ name: 'w', entities: ['**'], every, reason: 'test' }]),
  });
  return instants.map((t) => context.factsFor('any/entity', at(t)).maintenance);
}

describe('the service catalog', () => {
  it('gives an entity the first service in file order whose pattern matches', () => {
    const services = {
      narrow: { owner: 'a', tier: 1, entities: ['shop/*'] },
      wide: { owner: 'b', tier: 2, entities: ['shop/**'] },
    };
    const context = contextOf({ catalog: catalogOf(services) });
    assert.equal(context.factsFor('shop/pod-1', 0).service, 'narrow');
    assert.equal(context.factsFor('shop/eu/pod-1', 0).service, 'wide', '* does not cross "/"');
    const reversed = contextOf({ catalog: catalogOf({ wide: services.wide, narrow: services.narrow }) });
    assert.equal(reversed.factsFor('shop/pod-1', 0).service, 'wide');
  });

  it('matches * within one segment and ** across segments, anywhere in the pattern', () => {
    const context = contextOf({
      catalog: catalogOf({
        edge: { owner: 'a', tier: 2, entities: ['edge/checkout-*'] },
        jobs: { owner: 'b', tier: 3, entities: ['**/cron.*'] },
      }),
    });
    assert.equal(context.factsFor('edge/checkout-eu', 0).service, 'edge');
    assert.equal(context.factsFor('edge/checkout-eu/pod-1', 0).service, null);
    assert.equal(context.factsFor('batch/eu/cron.nightly', 0).service, 'jobs');
    assert.equal(context.factsFor('batch/eu/cronxnightly', 0).service, null, '"." is literal');
  });

  it('gives a service without entities its own name and everything under it', () => {
    const context = contextOf({ catalog: catalogOf({ search: { owner: 'team-discovery', tier: 2 } }) });
    for (const entity of ['search', 'search/pod-1', 'search/eu/pod-1'])
      assert.equal(context.factsFor(entity, 0).service, 'search', entity);
    for (const entity of ['searcher/pod-1', 'web/search'])
      assert.equal(context.factsFor(entity, 0).service, null);
  });

  it("gives the service's owner, tier, labels and dependencies, and nothing to an entity of no service", () => {
    const context = contextOf({ catalog: catalogOf(SERVICES) });
    assert.deepEqual(context.factsFor('checkout/pod-1', 0), {
      maintenance: false,
      maintenanceWindow: null,
      service: 'checkout',
      owner: 'team-checkout',
      tier: 1,
      labels: { domain: 'shop' },
      dependencies: ['payments'],
    });
    assert.deepEqual(context.factsFor('payments/pod-1', 0).labels, {});
    assert.deepEqual(context.factsFor('unknown/pod-1', 0), NO_CONTEXT_FACTS);
  });
});

describe('context file problems', () => {
  it('names the file, the JSON path and the fix of each problem in catalog.json', () => {
    const text = '{"services": {';
    let jsonError = '';
    try {
      JSON.parse(text);
    } catch (err) {
      jsonError = (err as Error).message;
    }
    assert.deepEqual(problemsOf({ catalog: { file: '/x/catalog.json', text } }), [
      `catalog.json: not valid JSON: ${jsonError}`,
    ]);
    assert.deepEqual(problemsOf({ catalog: { file: 'catalog.json', text: '{"service": {}}' } }), [
      'catalog.json: services: must be an object of services by name, for example {"checkout": {"owner": "team-checkout", "tier": 1}}',
      'catalog.json: service: unknown key (did you mean "services"?); the catalog takes services',
    ]);
    assert.deepEqual(problemsOf({ catalog: catalogOf({ checkout: { ownr: 'team-checkout', tier: 1 } }) }), [
      'catalog.json: services.checkout.owner: must name the owning team, for example "team-checkout"',
      'catalog.json: services.checkout.ownr: unknown key (did you mean "owner"?); a service takes owner, tier, dependencies, labels or entities',
    ]);
    // An unknown key at the top and the services' own problems in one reading.
    assert.deepEqual(
      problemsOf({
        catalog: {
          file: 'catalog.json',
          text: JSON.stringify({ services: { checkout: { owner: 'a', tier: 9 } }, owners: {} }),
        },
      }),
      [
        'catalog.json: owners: unknown key; the catalog takes services',
        'catalog.json: services.checkout.tier: must be an integer from 1 to 4',
      ],
    );
    for (const tier of [0, 5, 1.5, '1', null])
      assert.deepEqual(problemsOf({ catalog: catalogOf({ checkout: { owner: 'a', tier } }) }), [
        'catalog.json: services.checkout.tier: must be an integer from 1 to 4',
      ]);
    assert.deepEqual(
      problemsOf({
        catalog: catalogOf({
          ...SERVICES,
          checkout: { ...SERVICES.checkout, dependencies: ['paymnts', 'checkout'] },
        }),
      }),
      [
        'catalog.json: services.checkout.dependencies[0]: unknown service "paymnts" (did you mean "payments"?); define it in catalog.json or use one of checkout or payments',
        'catalog.json: services.checkout.dependencies[1]: a service cannot depend on itself; remove "checkout"',
      ],
    );
    assert.deepEqual(
      problemsOf({
        catalog: catalogOf({
          checkout: { owner: 'a', tier: 1, entities: ['checkout/[0-9]', 'a/***'] },
          '9x': SERVICES.payments,
        }),
      }),
      [
        'catalog.json: services.checkout.entities[0]: "checkout/[0-9]" is not an entity pattern: use entity characters (letters, digits and . _ : / @ -) with * for any run but "/" and ** for any run, for example "checkout/*"',
        'catalog.json: services.checkout.entities[1]: "a/***" is not an entity pattern: use entity characters (letters, digits and . _ : / @ -) with * for any run but "/" and ** for any run, for example "checkout/*"',
        'catalog.json: services.9x: a service name starts with a letter and holds letters, digits, . _ or - (at most 100), for example "checkout"',
      ],
    );
  });

  it('names the file, the JSON path and the fix of each problem in maintenance.json', () => {
    const catalog = catalogOf(SERVICES);
    const every = { days: ['sat'], start: '02:00', duration: '2h', timeZone: 'Europe/Berlin' };
    const once = { start: '2026-06-01T22:00:00Z', end: '2026-06-02T02:00:00+02:00' };
    const windowProblems = (window: Record<string, unknown>) =>
      problemsOf({
        catalog,
        maintenance: windowsOf([{ name: 'w', services: ['checkout'], reason: 'test', ...window }]),
      });
    assert.deepEqual(windowProblems({ every: { ...every, timeZone: 'Europe/Berln' } }), [
      'maintenance.json: windows[0].every.timeZone: unknown time zone "Europe/Berln" (did you mean "Europe/Berlin"?); use an IANA name such as "Europe/Berlin" or "UTC"',
    ]);
    // 02:00+02:00 is 00:00Z, after the start; 23:00+02:00 is 21:00Z, before it.
    assert.deepEqual(windowProblems({ once: { ...once, end: '2026-06-01T23:00:00+02:00' } }), [
      'maintenance.json: windows[0].once.end: must be after once.start',
    ]);
    assert.deepEqual(windowProblems({ once: { ...once, end: '2026-07-03T00:00:00Z' } }), [
      'maintenance.json: windows[0].once.end: must be at most 31 days after once.start; split a longer freeze into several windows',
    ]);
    assert.deepEqual(
      windowProblems({ once: { start: '2026-02-30T22:00:00Z', end: '2026-06-01T22:00:00' } }),
      [
        'maintenance.json: windows[0].once.start: must be an ISO-8601 time with an offset, for example "2025-06-01T22:00:00Z" or "2025-06-01T22:00:00+02:00"',
        'maintenance.json: windows[0].once.end: must be an ISO-8601 time with an offset, for example "2025-06-01T22:00:00Z" or "2025-06-01T22:00:00+02:00"',
      ],
    );
    assert.deepEqual(windowProblems({ every: { ...every, days: ['sat', 'sunday', 'satu'] } }), [
      'maintenance.json: windows[0].every.days[1]: unknown day "sunday"; use mon, tue, wed, thu, fri, sat or sun',
      'maintenance.json: windows[0].every.days[2]: unknown day "satu" (did you mean "sat"?); use mon, tue, wed, thu, fri, sat or sun',
    ]);
    assert.deepEqual(windowProblems({ every: { ...every, duration: 'two hours' } }), [
      'maintenance.json: windows[0].every.duration: must be a duration such as "30m", "2h" or "1h30m", at most 7d',
    ]);
    assert.deepEqual(windowProblems({ every: { ...every, duration: '7d1m' } }), [
      'maintenance.json: windows[0].every.duration: must be at most 7d',
    ]);
    assert.deepEqual(windowProblems({ every: { ...every, start: '2:00' } }), [
      'maintenance.json: windows[0].every.start: must be a local time "HH:MM" from 00:00 to 23:59, for example "02:00"',
    ]);
    assert.deepEqual(windowProblems({ services: ['checkout', 'chekout'], every }), [
      'maintenance.json: windows[0].services[1]: unknown service "chekout" (did you mean "checkout"?); define it in catalog.json or use one of checkout or payments',
    ]);
    assert.deepEqual(windowProblems({ services: [], every, once }), [
      'maintenance.json: windows[0]: must list "services" or "entities" it holds (for every entity: "entities": ["**"])',
      'maintenance.json: windows[0]: must have either "once" or "every", not both',
    ]);
    assert.deepEqual(
      problemsOf({
        catalog,
        maintenance: windowsOf([
          { name: 'w', services: ['checkout'], every, reason: 'a' },
          { name: 'w', services: ['payments'], every, reason: 'b' },
        ]),
      }),
      ['maintenance.json: windows[1].name: "w" is already used by windows[0]; give each window its own name'],
    );
    // A twin refused for another field too, and an unknown key at the top: all in one reading.
    assert.deepEqual(
      problemsOf({
        catalog,
        maintenance: {
          file: 'maintenance.json',
          text: JSON.stringify({
            windows: [
              { name: 'w', services: ['checkout'], every, reason: 'a' },
              {
                name: ' w ',
                services: ['payments'],
                every: { ...every, duration: 'two hours' },
                reason: 'b',
              },
            ],
            window: [],
          }),
        },
      }),
      [
        'maintenance.json: window: unknown key (did you mean "windows"?); the maintenance file takes windows',
        'maintenance.json: windows[1].every.duration: must be a duration such as "30m", "2h" or "1h30m", at most 7d',
        'maintenance.json: windows[1].name: "w" is already used by windows[0]; give each window its own name',
      ],
    );
    assert.deepEqual(
      problemsOf({ maintenance: windowsOf([{ name: 'w', services: ['checkout'], every, reason: 'a' }]) }),
      [
        'maintenance.json: windows[0].services[0]: unknown service "checkout"; catalog.json defines no services; add it there first',
      ],
    );
  });
});

describe('maintenance windows', () => {
  it('holds an entity during a one-off window, from start up to end', () => {
    const context = contextOf({
      catalog: catalogOf(SERVICES),
      maintenance: windowsOf([
        {
          name: 'db-upgrade',
          services: ['payments'],
          once: { start: '2027-01-16T22:00:00+01:00', end: '2027-01-17T04:00:00+01:00' },
          reason: 'CHG-1',
        },
      ]),
    });
    const facts = (iso: string, entity = 'payments/db-1') => context.factsFor(entity, at(iso));
    assert.equal(facts('2027-01-16T20:59:59.999Z').maintenance, false);
    assert.deepEqual(facts('2027-01-16T21:00:00Z'), {
      ...context.factsFor('payments/db-1', 0),
      maintenance: true,
      maintenanceWindow: 'db-upgrade',
    });
    assert.equal(facts('2027-01-17T02:59:59.999Z').maintenance, true);
    assert.equal(facts('2027-01-17T03:00:00Z').maintenance, false);
    assert.equal(facts('2027-01-17T01:00:00Z', 'checkout/pod-1').maintenance, false, 'another service');
  });

  it('names the first open window in file order, and holds entities by pattern without a service', () => {
    const once = { start: '2027-01-01T00:00:00Z', end: '2027-01-02T00:00:00Z' };
    const context = contextOf({
      catalog: catalogOf(SERVICES),
      maintenance: windowsOf([
        {
          name: 'later',
          entities: ['batch/*'],
          once: { ...once, start: '2027-01-01T12:00:00Z' },
          reason: 'a',
        },
        { name: 'freeze', entities: ['**'], once, reason: 'b' },
      ]),
    });
    assert.equal(context.factsFor('batch/job-1', at('2027-01-01T06:00:00Z')).maintenanceWindow, 'freeze');
    assert.equal(context.factsFor('batch/job-1', at('2027-01-01T13:00:00Z')).maintenanceWindow, 'later');
    assert.equal(context.factsFor('checkout/pod-1', at('2027-01-01T13:00:00Z')).maintenanceWindow, 'freeze');
    assert.equal(context.factsFor('batch/job-1', at('2027-01-01T13:00:00Z')).service, null);
  });

  it('keeps a recurring window open past midnight into the next day', () => {
    // Saturday 23:30 for 3h in Berlin (CET, +01:00): 22:30Z Saturday to 01:30Z Sunday.
    const every = { days: ['sat'], start: '23:30', duration: '3h', timeZone: 'Europe/Berlin' };
    assert.deepEqual(
      openAt(every, [
        '2027-01-09T22:29:59Z',
        '2027-01-09T22:30:00Z',
        '2027-01-10T00:15:00Z',
        '2027-01-10T01:29:59Z',
        '2027-01-10T01:30:00Z',
        '2027-01-10T22:45:00Z', // Sunday 23:45: not a listed day
        '2027-01-16T23:00:00Z', // the next Saturday
      ]),
      [false, true, true, true, false, false, true],
    );
  });

  it('follows the wall clock across the DST changes in Europe/Berlin', () => {
    // Sundays at 02:30 for 1h. 2026-03-29 02:30 does not exist (02:00 CET → 03:00 CEST): the window
    // opens when the clock jumps, at 03:30 CEST (01:30Z). 2026-10-25 02:30 happens twice: the first
    // one (CEST, 00:30Z) opens it.
    const every = { days: ['sun'], start: '02:30', duration: '1h', timeZone: 'Europe/Berlin' };
    const cases: Array<[string, boolean]> = [
      ['2026-03-22T01:29:59Z', false], // a week before, CET: 02:30 is 01:30Z
      ['2026-03-22T01:30:00Z', true],
      ['2026-03-29T01:29:59Z', false],
      ['2026-03-29T01:30:00Z', true],
      ['2026-03-29T02:29:59Z', true],
      ['2026-03-29T02:30:00Z', false],
      ['2026-04-05T00:29:59Z', false], // a week after, CEST: 02:30 is 00:30Z
      ['2026-04-05T00:30:00Z', true],
      ['2026-04-05T01:30:00Z', false],
      ['2026-10-25T00:29:59Z', false],
      ['2026-10-25T00:30:00Z', true],
      ['2026-10-25T01:29:59Z', true],
      ['2026-10-25T01:30:00Z', false], // 02:30 CET, the second 02:30
      ['2026-11-01T01:30:00Z', true], // a week after, CET
      ['2026-11-01T00:30:00Z', false],
    ];
    assert.deepEqual(
      openAt(
        every,
        cases.map(([t]) => t),
      ),
      cases.map(([, open]) => open),
    );
    // Out of order, as a backtest or several partitions ask: the same answers.
    const reversed = [...cases].reverse();
    assert.deepEqual(
      openAt(
        every,
        reversed.map(([t]) => t),
      ),
      reversed.map(([, open]) => open),
    );
  });

  it('lasts its duration of real time across a DST change', () => {
    // Every day at 01:30 for 2h in Berlin: on 2026-03-29 01:30 CET (00:30Z) to 04:30 CEST (02:30Z).
    const every = { start: '01:30', duration: '2h', timeZone: 'Europe/Berlin' };
    assert.deepEqual(
      openAt(every, ['2026-03-29T00:29:59Z', '2026-03-29T02:29:59Z', '2026-03-29T02:30:00Z']),
      [false, true, false],
    );
  });

  it('honours zones with half-hour offsets, with and without DST', () => {
    // Kolkata, +05:30 all year: Monday 09:00 is 03:30Z.
    assert.deepEqual(
      openAt({ days: ['mon'], start: '09:00', duration: '1h', timeZone: 'Asia/Kolkata' }, [
        '2026-11-30T03:29:59Z',
        '2026-11-30T03:30:00Z',
        '2026-11-30T04:29:59Z',
        '2026-11-30T04:30:00Z',
        '2026-12-01T03:45:00Z', // Tuesday
      ]),
      [false, true, true, false, false],
    );
    // Adelaide, +10:30 in (southern) summer, +09:30 in winter: 00:15 every day is the day before in UTC.
    assert.deepEqual(
      openAt({ start: '00:15', duration: '30m', timeZone: 'Australia/Adelaide' }, [
        '2027-01-10T13:44:59Z',
        '2027-01-10T13:45:00Z',
        '2027-07-10T14:45:00Z',
        '2027-07-10T13:45:00Z',
      ]),
      [false, true, true, false],
    );
  });
});

describe('the context folder', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'context-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('loads the committed rules/context without problems', () => {
    const { context, problems, files } = loadContextDir(path.join(repoRoot, 'rules', 'context'));
    assert.deepEqual(problems, []);
    assert.deepEqual(
      files.map((f) => path.basename(f)),
      ['catalog.json', 'maintenance.json'],
    );
    assert.equal(context.factsFor('checkout/pod-1', 0).tier, 1);
    // search-index-rebuild: Saturdays 23:30 Berlin for 3h; 2027-01-10 00:30 CET is a Sunday.
    assert.equal(
      context.factsFor('search/pod-1', at('2027-01-09T23:30:00Z')).maintenanceWindow,
      'search-index-rebuild',
    );
  });

  it('means no services and no windows when the folder or a file is missing', () => {
    assert.deepEqual(loadContextDir(path.join(dir, 'missing')), {
      context: EMPTY_CONTEXT,
      problems: [],
      files: [],
    });
    fs.writeFileSync(path.join(dir, 'catalog.json'), JSON.stringify({ services: SERVICES }));
    const { context, problems, files } = loadContextDir(dir);
    assert.deepEqual(problems, []);
    assert.deepEqual(files, [path.join(dir, 'catalog.json')]);
    assert.equal(context.factsFor('checkout/pod-1', 0).owner, 'team-checkout');
  });

  it('refuses a .json file it does not know, so a misspelt name does not drop the windows', () => {
    fs.writeFileSync(path.join(dir, 'maintenance-windows.json'), '{"windows": []}');
    fs.writeFileSync(path.join(dir, 'notes.md'), 'not JSON, not checked');
    const { context, problems } = loadContextDir(dir);
    assert.equal(context, EMPTY_CONTEXT);
    assert.deepEqual(problems, [
      'maintenance-windows.json: not a context file; the context folder holds catalog.json or maintenance.json',
    ]);
  });
});

describe('factsFor', () => {
  const obs: Observation = {
    entity: 'checkout/pod-1',
    seq: 1,
    window: { start: 0, end: 30_000 },
    features: { 'cpu.avg': 90, tier: 4 } as Record<string, number>,
    events: [
      { kind: 'deploy', message: 'v2', ts: 1 },
      { kind: 'alert', message: 'cpu', ts: 2 },
      { kind: 'deploy', message: 'v3', ts: 3 },
    ],
    ts: 30_000,
  };

  it('gives features, events, their kinds and no context facts without a context', () => {
    const facts = factsFor(obs);
    assert.equal(facts['cpu.avg'], 90);
    assert.deepEqual(facts.eventKinds, ['deploy', 'alert']);
    assert.equal(facts.maintenance, false);
    assert.equal(facts.tier, null, 'a feature cannot pose as a context fact');
    assert.equal(facts.service, null);
  });

  it("gives the entity's context facts, which rules read in json-rules-engine", async () => {
    const context = contextOf({
      catalog: catalogOf(SERVICES),
      maintenance: windowsOf([
        {
          name: 'freeze',
          services: ['checkout'],
          once: { start: '2027-01-01T00:00:00Z', end: '2027-01-02T00:00:00Z' },
          reason: 'r',
        },
      ]),
    });
    const facts = factsFor(obs, context.factsFor(obs.entity, at('2026-12-01T00:00:00Z')));
    assert.equal(facts.tier, 1);
    assert.equal(facts.owner, 'team-checkout');
    const engine = new Engine([], { allowUndefinedFacts: true });
    engine.addRule({
      name: 'tier-1-deploy',
      conditions: {
        all: [
          { fact: 'tier', operator: 'equal', value: 1 },
          { fact: 'maintenance', operator: 'equal', value: false },
          { fact: 'eventKinds', operator: 'contains', value: 'deploy' },
          { fact: 'labels', path: '$.domain', operator: 'equal', value: 'shop' },
          { fact: 'dependencies', operator: 'contains', value: 'payments' },
        ],
      },
      event: { type: 'fire' },
    });
    assert.equal((await engine.run(facts)).events.length, 1);
    const frozen = factsFor(obs, context.factsFor(obs.entity, at('2027-01-01T12:00:00Z')));
    assert.equal(frozen.maintenanceWindow, 'freeze');
    assert.equal((await engine.run(frozen)).events.length, 0);
  });

  it('names the context facts in the facts reference, with samples of the right kinds', () => {
    const kinds: Record<string, string> = {
      maintenance: 'boolean',
      maintenanceWindow: 'string',
      service: 'string',
      owner: 'string',
      tier: 'number',
      labels: 'object',
    };
    for (const [name, kind] of Object.entries(kinds)) {
      assert.equal(unknownFact(name), undefined, name);
      assert.equal(typeof sampleFact(name), kind, name);
    }
    for (const name of ['dependencies', 'eventKinds']) {
      assert.equal(unknownFact(name), undefined, name);
      const sample = sampleFact(name);
      assert.ok(Array.isArray(sample) && sample.every((s) => typeof s === 'string'), name);
    }
    assert.match(unknownFact('teir') ?? '', /did you mean "tier"\?/);
  });
});
