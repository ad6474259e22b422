/**
 * Explains a trained model in an SRE's words: per class, the inputs that make it more or less
 * likely, strongest first. Weights are on standardized inputs, so they compare across features.
 */
import type { GlmModel } from './model-types.js';

/** Per class, the `top` strongest weights as a sentence, after one line saying how to read them. */
export function inspectModel(model: GlmModel, top = 5): string[] {
  const lines = [
    `${model.version}: ${model.link}, ${model.columns.length} inputs; weights are per standard deviation of each input`,
  ];
  // Logit has one weight column: the odds of classes[1] against classes[0].
  const outputs = model.link === 'logit' ? [model.classes[1]!] : model.classes;
  outputs.forEach((cls, k) => {
    const label = model.link === 'logit' ? `${cls} (vs ${model.classes[0]})` : cls;
    const strongest = model.weights
      .map((row, j) => ({ j, w: row[k]! }))
      .filter(({ w }) => w !== 0)
      .sort((a, b) => Math.abs(b.w) - Math.abs(a.w) || a.j - b.j)
      .slice(0, top);
    if (strongest.length === 0) {
      lines.push(`${label}: no input moves it (every weight is zero; lambda may be too large)`);
      return;
    }
    const phrase = ({ j, w }: { j: number; w: number }) =>
      `${describe(model, j)} (${w > 0 ? '+' : ''}${w.toFixed(2)})`;
    const more = strongest.filter(({ w }) => w > 0).map(phrase);
    const less = strongest.filter(({ w }) => w < 0).map(phrase);
    const parts = [
      ...(more.length > 0 ? [`more likely ${more.join(', ')}`] : []),
      ...(less.length > 0 ? [`less likely ${less.join(', ')}`] : []),
    ];
    lines.push(`${label}: ${parts.join('; ')}`);
  });
  return lines;
}

/** "when cpu.avg is high", or for a hashed bucket "when events mention \"oomkilled\"". */
function describe(model: GlmModel, j: number): string {
  const column = model.columns[j]!;
  const hash = column.lastIndexOf('#');
  const isBucket =
    hash > 0 && model.features.some((f) => f.kind === 'event_tokens' && f.name === column.slice(0, hash));
  if (!isBucket) return `when ${column} is high`;
  const tokens = model.bucketTokens?.[column];
  if (!tokens || tokens.length === 0) return `when events hit event bucket ${column.slice(hash + 1)}`;
  return `when events mention ${tokens.map((t) => `"${t}"`).join(' or ')}`;
}
