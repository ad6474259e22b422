/** The silence outlet reads the alert mapping's entity template backwards into label matchers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchersOf } from '../../services/actuators/alertmanager-silence.js';

const eq = (name: string, value: string) => ({ name, value, isRegex: false, isEqual: true });

describe('silence matchers from the alert mapping', () => {
  it('gives one equality matcher per label of the template', () => {
    assert.deepEqual(matchersOf('{{namespace}}/{{pod}}', 'checkout/pod-1'), [
      eq('namespace', 'checkout'),
      eq('pod', 'pod-1'),
    ]);
    assert.deepEqual(matchersOf('k8s:{{ cluster }}:{{pod}}', 'k8s:eu-1:web-7'), [
      eq('cluster', 'eu-1'),
      eq('pod', 'web-7'),
    ]);
    // Regex characters in the literal parts are literal.
    assert.deepEqual(matchersOf('{{job}}.{{instance}}', 'api.10'), [eq('job', 'api'), eq('instance', '10')]);
  });

  it('silences nothing for an entity that does not fit, or a key Alertmanager cannot match on', () => {
    assert.equal(matchersOf('{{namespace}}/{{pod}}', 'checkout'), undefined);
    assert.equal(matchersOf('{{service.name}}/{{pod}}', 'a/b'), undefined);
    assert.equal(matchersOf('no-labels', 'no-labels'), undefined);
  });
});
