/** A Kafka message's value parsed as JSON; undefined when it has none or it is not JSON. */
export function jsonValue(value: Buffer | null): unknown {
  if (!value) return undefined;
  try {
    return JSON.parse(value.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
