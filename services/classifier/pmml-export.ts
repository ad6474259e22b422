/**
 * Writes a trained GLM as PMML 4.4 (a RegressionModel, softmax or logit normalization), for
 * scoring engines that read PMML rather than ONNX. Like the ONNX graph it takes the model's input
 * vector (model.columns: the numeric inputs, then the hashed event-token buckets; vectorize()
 * makes it), with the standardization folded into the coefficients:
 *   logit_k = b_k + Σ_j w_jk (x_j - mean_j) / scale_j = (b_k - Σ_j w_jk mean_j / scale_j) + Σ_j (w_jk / scale_j) x_j.
 * A missing input is replaced by its training mean, as vectorize() does.
 */
import type { GlmModel } from './model-types.js';

/** The PMML file's name in a model folder, beside model.onnx. */
export const PMML_FILE = 'model.pmml';
/** The target field's name in the PMML: the class. */
export const PMML_TARGET = 'class';

/** The output field holding the probability of `cls`. */
export function pmmlProbabilityField(cls: string): string {
  return `probability(${cls})`;
}

const escape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A double written so that reading it back gives the same double. */
const num = (v: number) => (Object.is(v, -0) ? '0' : String(v));

/** The PMML 4.4 document of `model`. */
export function glmToPmml(model: GlmModel): string {
  const { columns, classes, mean, scale, weights, intercepts } = model;
  const outputs = intercepts.length;
  const tables: string[] = [];
  // One table per weight column: the class it scores, its folded intercept and coefficients.
  const scored = model.link === 'logit' ? [classes[1]!] : classes;
  for (let k = 0; k < outputs; k++) {
    let intercept = intercepts[k]!;
    const predictors: string[] = [];
    for (let j = 0; j < columns.length; j++) {
      const w = weights[j]![k]!;
      if (w === 0) continue;
      const coefficient = w / scale[j]!;
      intercept -= coefficient * mean[j]!;
      predictors.push(
        `      <NumericPredictor name="${escape(columns[j]!)}" exponent="1" coefficient="${num(coefficient)}"/>`,
      );
    }
    tables.push(
      `    <RegressionTable targetCategory="${escape(scored[k]!)}" intercept="${num(intercept)}">\n${predictors.join('\n')}\n    </RegressionTable>`,
    );
  }
  // Logit: the negative class's table is empty (its logit is 0).
  if (model.link === 'logit')
    tables.push(`    <RegressionTable targetCategory="${escape(classes[0]!)}" intercept="0"/>`);
  const dataFields = columns.map(
    (c) => `    <DataField name="${escape(c)}" optype="continuous" dataType="double"/>`,
  );
  const values = classes.map((c) => `      <Value value="${escape(c)}"/>`).join('\n');
  const miningFields = columns.map(
    (c, j) =>
      `      <MiningField name="${escape(c)}" usageType="active" missingValueReplacement="${num(mean[j]!)}" missingValueTreatment="asMean"/>`,
  );
  const outputFields = classes.map(
    (c) =>
      `      <OutputField name="${escape(pmmlProbabilityField(c))}" optype="continuous" dataType="double" feature="probability" value="${escape(c)}"/>`,
  );
  return `<?xml version="1.0" encoding="UTF-8"?>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <Header description="${escape(`${model.name} incident classifier (GLM, ${model.link})`)}">
    <Application name="open-autoglm" version="${escape(model.version)}"/>
  </Header>
  <DataDictionary numberOfFields="${columns.length + 1}">
${dataFields.join('\n')}
    <DataField name="${PMML_TARGET}" optype="categorical" dataType="string">
${values}
    </DataField>
  </DataDictionary>
  <RegressionModel modelName="${escape(model.version)}" functionName="classification" normalizationMethod="${model.link === 'logit' ? 'logit' : 'softmax'}">
    <MiningSchema>
      <MiningField name="${PMML_TARGET}" usageType="target"/>
${miningFields.join('\n')}
    </MiningSchema>
    <Output>
${outputFields.join('\n')}
    </Output>
${tables.join('\n')}
  </RegressionModel>
</PMML>
`;
}
