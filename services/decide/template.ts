const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.$-]+)\s*\}\}/g;

/**
 * Fills `{{name}}` placeholders in rule args from `context`. A name is looked up whole first
 * (features are named `cpu.avg`), then as a dotted path (`catalog.owner`). A string that is one
 * placeholder keeps the value's type; unknown names are left as written so the audit shows them.
 */
export function expandTemplate(value: unknown, context: Readonly<Record<string, unknown>>): unknown {
  if (typeof value === 'string') {
    const whole = /^\{\{\s*([A-Za-z0-9_.$-]+)\s*\}\}$/.exec(value);
    if (whole?.[1] !== undefined) {
      const found = lookup(context, whole[1]);
      return found === undefined ? value : found;
    }
    return value.replace(PLACEHOLDER, (match, name: string) => {
      const found = lookup(context, name);
      return found === undefined ? match : String(found);
    });
  }
  if (Array.isArray(value)) return value.map((v) => expandTemplate(v, context));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandTemplate(v, context)]));
  }
  return value;
}

function lookup(context: Readonly<Record<string, unknown>>, name: string): unknown {
  // Own properties only: `{{constructor}}` or `{{__proto__}}` must not reach inherited members.
  if (Object.hasOwn(context, name)) return context[name];
  let current: unknown = context;
  for (const part of name.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}
