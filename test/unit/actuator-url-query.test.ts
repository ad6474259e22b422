/**
 * A rule's actuator URL travels verbatim in decisions, workflow memos and history, and the act step
 * needs it whole: a URL with a query (a ?token=) or a fragment is refused when the rule loads.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../../infra/paths.js';
import { actuatorsFromConfig } from '../../services/actuators/from-config.js';
import { loadConfig } from '../../services/common/config.js';
import { loadRuleDir, RuleLoadError } from '../../services/decide/rule-file.js';

const shipped = JSON.parse(
  fs.readFileSync(path.join(repoRoot, 'rules', 'cpu-saturation-scale-out.json'), 'utf8'),
) as { name: string; event: { params: Record<string, unknown> } };

describe('actuator URLs in rules', () => {
  it('refuses a query or fragment at load, without quoting it; the same URL without one loads', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rules-query-'));
    try {
      const write = (name: string, url: string) =>
        fs.writeFileSync(
          path.join(dir, `${name}.json`),
          JSON.stringify({
            ...shipped,
            name,
            event: { ...shipped.event, params: { ...shipped.event.params, actuator: { type: 'http', url } } },
          }),
        );
      const actuators = actuatorsFromConfig(loadConfig({}));
      const check = { checkActuator: (ref: Parameters<typeof actuators.check>[0]) => actuators.check(ref) };
      write('plain', 'http://127.0.0.1:8090/actuate/scale');
      assert.equal(loadRuleDir(dir, check).length, 1);
      write('token', 'http://127.0.0.1:8090/actuate?token=hunter2');
      write('frag', 'http://127.0.0.1:8090/actuate#hunter2');
      assert.throws(
        () => loadRuleDir(dir, check),
        (err: unknown) => {
          assert.ok(err instanceof RuleLoadError);
          assert.equal(err.problems.length, 2, err.message);
          for (const file of ['token', 'frag'])
            assert.match(
              err.message,
              new RegExp(`${file}\\.json: event\\.params\\.actuator: refused URL .*has a query or fragment`),
            );
          assert.doesNotMatch(err.message, /hunter2/);
          return true;
        },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
