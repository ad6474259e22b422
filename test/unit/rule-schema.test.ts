import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import * as prettier from 'prettier';
import { CONTEXT_FACTS } from '../../services/common/facts-reference.js';
import { RULE_SCHEMA_FILE, renderRuleJsonSchema, ruleJsonSchema } from '../../services/decide/rule-schema.js';

type Node = Record<string, any>;
const schema = ruleJsonSchema() as Node;

/** The node itself, or the `$defs` entry its `$ref` points at. */
const deref = (node: Node): Node => {
  const ref = node.$ref as string | undefined;
  if (ref === undefined) return node;
  const name = ref.replace('#/$defs/', '');
  assert.ok(schema.$defs[name], `${ref} resolves`);
  return { ...schema.$defs[name], ...node, $ref: undefined };
};

describe('rules/rule.schema.json', () => {
  it('is the schema generated from the zod rule file schema', () => {
    const committed = fs.readFileSync(RULE_SCHEMA_FILE, 'utf8');
    assert.ok(
      committed === renderRuleJsonSchema(),
      'rules/rule.schema.json is out of date: run npx tsx services/decide/rule-schema.ts',
    );
  });

  it('is laid out as prettier lays it out, so `prettier --check` accepts it', async () => {
    const text = renderRuleJsonSchema();
    const options = (await prettier.resolveConfig(RULE_SCHEMA_FILE)) ?? {};
    assert.equal(await prettier.format(text, { ...options, filepath: RULE_SCHEMA_FILE }), text);
  });

  it('describes a rule file as decide reads it, defaults optional', () => {
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(schema.$id, 'rule.schema.json');
    assert.match(schema.title, /rule/);
    assert.deepEqual(schema.required, ['name', 'conditions', 'event']);
    assert.equal(schema.additionalProperties, false);
    assert.equal(schema.properties.name.pattern, '^[a-z0-9][a-z0-9-]*$');
    assert.ok(schema.properties.name.description);
    assert.equal(schema.properties.priority.default, 1);

    const event = schema.properties.event;
    assert.equal(event.properties.type.const, 'remediate');
    const params = event.properties.params;
    assert.deepEqual(params.required, ['action', 'verify']);
    assert.equal(params.additionalProperties, false);
    for (const key of [
      'action',
      'args',
      'actuator',
      'mode',
      'cooldown',
      'approval',
      'verify',
      'onVerifyFailure',
      'escalate',
    ])
      assert.ok(deref(params.properties[key]).description, `event.params.${key} is described`);
    assert.equal(params.properties.action.pattern, '^[a-z][a-z0-9_]*$');
    assert.deepEqual(params.properties.mode.enum, ['enforce', 'shadow']);
    assert.equal(params.properties.mode.default, 'enforce');
    assert.deepEqual(params.properties.approval.enum, ['none', 'required']);

    const verify = params.properties.verify;
    assert.deepEqual(verify.required, ['conditions', 'within']);
    assert.ok(deref(verify.properties.within).examples.includes('5m'));
    assert.equal(verify.properties.stableFor.default, '0s');
    for (const step of ['onVerifyFailure', 'escalate'])
      assert.deepEqual(deref(params.properties[step]).required, ['action']);
  });

  it('describes condition trees with the facts and operators the rule check accepts', () => {
    const conditions = deref(schema.properties.conditions);
    assert.deepEqual(Object.keys(conditions.properties), ['all', 'any', 'not', 'condition']);
    const verify = schema.properties.event.properties.params.properties.verify;
    assert.equal(
      verify.properties.conditions.$ref,
      schema.properties.conditions.$ref,
      'verify uses the same tree',
    );
    const leaf = schema.$defs.condition;
    assert.ok(leaf.oneOf.some((o: Node) => o.required.join() === 'fact,operator,value'));
    const [known, feature] = schema.$defs.fact.anyOf;
    assert.deepEqual(known.enum, Object.keys(CONTEXT_FACTS));
    const pattern = new RegExp(feature.pattern);
    for (const ok of ['cpu.avg', 'latency.p95', 'upstream_errors.min']) assert.match(ok, pattern);
    for (const bad of ['cpu.avgg', 'CPU', 'cpu']) assert.doesNotMatch(bad, pattern);
    const [operators, decorated] = schema.$defs.operator.anyOf;
    for (const op of ['equal', 'greaterThan', 'lessThanInclusive', 'contains', 'notIn'])
      assert.ok(operators.enum.includes(op), op);
    assert.match('not:contains', new RegExp(decorated.pattern));
    assert.doesNotMatch('greaterThen', new RegExp(decorated.pattern));
  });
});
