/**
 * The cross-generator evaluation written into a model's card (card.md and card.json), so the card
 * says how the model fares on data from a generator it was not trained on, not only on its own.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CrossResult } from './cross-evaluate.js';
import { MODEL_FILES } from './model-files.js';

const HEADING = '## Cross-generator evaluation';

const fixed = (v: number) => (Number.isNaN(v) ? 'n/a' : v.toFixed(4));

/** The card.md section for `result`, measured with `command`. */
export function crossCardSection(result: CrossResult, command: string): string {
  const rows = result.forward.map(
    ({ variant, evaluation: e, naming: n }) =>
      `| ${variant.name}: ${variant.description} | ${fixed(e.macroAuc)} | ${fixed(e.ece)} | ${n.right} / ${n.abstained} / ${n.wrong} of ${n.incidents} | ${n.healthyNamed} of ${n.healthy} |`,
  );
  const r = result.reverse;
  return [
    HEADING,
    '',
    `Trained on the classifier's generator only; scored on the fleet simulator's scenario traces (a different generator), \`${command}\`:`,
    '',
    '| fleet variant | macro AUC | ECE | incidents right / unknown / wrong | healthy named an incident |',
    '| --- | ---: | ---: | --- | --- |',
    ...rows,
    '',
    `Reverse: the same config trained on ${r.trainRows} rows of the fleet's traces, scored on the classifier's scenarios: macro AUC ${fixed(r.evaluation.macroAuc)}, ECE ${fixed(r.evaluation.ece)}.`,
    '',
  ].join('\n');
}

/** Writes `result` into the card of the model in `dir`, replacing an earlier cross-generator section. */
export function writeCrossCard(dir: string, result: CrossResult, command: string): void {
  const mdFile = path.join(dir, MODEL_FILES.cardMarkdown);
  const jsonFile = path.join(dir, MODEL_FILES.cardJson);
  const md = fs.readFileSync(mdFile, 'utf8');
  const start = md.indexOf(HEADING);
  let rest = '';
  let head = md;
  if (start >= 0) {
    head = md.slice(0, start);
    const next = md.indexOf('\n## ', start + HEADING.length);
    rest = next >= 0 ? md.slice(next + 1) : '';
  }
  const section = crossCardSection(result, command);
  fs.writeFileSync(mdFile, `${head.trimEnd()}\n\n${section}${rest ? `\n${rest}` : ''}`);
  const json = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as Record<string, unknown>;
  json.crossGenerator = {
    command,
    forward: result.forward.map(({ variant, evaluation, naming }) => ({
      variant: variant.name,
      description: variant.description,
      rows: evaluation.rows,
      macroAuc: evaluation.macroAuc,
      ece: evaluation.ece,
      naming,
    })),
    reverse: {
      trainRows: result.reverse.trainRows,
      rows: result.reverse.evaluation.rows,
      macroAuc: result.reverse.evaluation.macroAuc,
      ece: result.reverse.evaluation.ece,
    },
  };
  fs.writeFileSync(jsonFile, `${JSON.stringify(json, null, 2)}\n`);
}
