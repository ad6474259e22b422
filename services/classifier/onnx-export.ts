/**
 * Writes a trained GLM as an ONNX graph of standard operators, so serving runs it in onnxruntime
 * rather than in our own arithmetic; the graph computes exactly what `GlmModel` describes.
 */
import onnxProto from 'onnx-proto';
import type { GlmModel } from './model-types.js';

const { onnx } = onnxProto;

/** The graph's input and output names and the symbolic batch dimension, shared with the loader. */
export const ONNX_IO = { input: 'x', output: 'probabilities', batch: 'batch' } as const;

/** The default-domain opset the graph is written for (Softmax with a single axis needs 13+). */
export const ONNX_OPSET = 13;

/** Keys of the model's metadata_props, read back at load to check the file against model.json. */
export const ONNX_METADATA = {
  name: 'name',
  version: 'version',
  link: 'link',
  classes: 'classes',
  columns: 'columns',
} as const;

/** How many weight columns the model has: one for logit (P(classes[1])), one per class for softmax. */
export function outputsOf(model: Pick<GlmModel, 'link' | 'classes'>): number {
  return model.link === 'logit' ? 1 : model.classes.length;
}

/** Where the model's arrays disagree on the number of columns or outputs; empty when consistent. */
export function shapeProblems(model: GlmModel): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  const width = model.columns.length;
  const outputs = outputsOf(model);
  if (model.link === 'logit' && model.classes.length !== 2)
    problems.push({
      path: ['classes'],
      message: `logit needs exactly 2 classes (negative first), got ${model.classes.length}`,
    });
  for (const key of ['mean', 'scale', 'weights'] as const)
    if (model[key].length !== width)
      problems.push({
        path: [key],
        message: `expected ${width} entries (one per column), got ${model[key].length}`,
      });
  model.weights.forEach((row, i) => {
    if (row.length !== outputs)
      problems.push({
        path: ['weights', i],
        message: `expected ${outputs} values (${model.link === 'logit' ? 'logit: one' : 'one per class'}), got ${row.length}`,
      });
  });
  if (model.intercepts.length !== outputs)
    problems.push({
      path: ['intercepts'],
      message: `expected ${outputs} values, got ${model.intercepts.length}`,
    });
  return problems;
}

/**
 * A float64 initializer (raw little-endian bytes keep the load fast): the graph computes in double precision (inputs and outputs stay float32),
 * so a sharply fitted model's probabilities match the float64 reference within float32 rounding.
 */
function doubleTensor(name: string, dims: number[], values: Iterable<number>): onnxProto.onnx.ITensorProto {
  const list = Array.from(values);
  const bytes = new Uint8Array(list.length * 8);
  const view = new DataView(bytes.buffer);
  list.forEach((v, i) => {
    if (!Number.isFinite(v) || !Number.isFinite(Math.fround(v)))
      throw new RangeError(`${name}[${i}] = ${v} is not a finite float32; the model cannot be exported`);
    view.setFloat64(i * 8, v, true);
  });
  return { name, dims, dataType: onnx.TensorProto.DataType.DOUBLE, rawData: bytes };
}

/** Cast's `to` attribute. */
const castTo = (type: number): onnxProto.onnx.IAttributeProto => ({
  name: 'to',
  type: onnx.AttributeProto.AttributeType.INT,
  i: type,
});

/** A float32 tensor value of shape [batch, width]. */
function batchOf(name: string, width: number): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: ONNX_IO.batch }, { dimValue: width }] },
      },
    },
  };
}

function node(
  opType: string,
  inputs: string[],
  output: string,
  attribute: onnxProto.onnx.IAttributeProto[] = [],
): onnxProto.onnx.INodeProto {
  return { opType, name: output, input: inputs, output: [output], attribute };
}

const axis1: onnxProto.onnx.IAttributeProto = {
  name: 'axis',
  type: onnx.AttributeProto.AttributeType.INT,
  i: 1,
};

/** The yyyymmddhhmmss of a `<name>-<stamp>-<hash>` version as ONNX's integer model_version (0 if none). */
function versionNumber(version: string): number {
  const stamp = /-(\d{14})-[^-]+$/.exec(version)?.[1];
  return stamp === undefined ? 0 : Number(stamp);
}

/**
 * The model as a serialized ONNX ModelProto: x [batch, C] float32 → Cast to double → Sub mean → Div
 * scale → MatMul W → Add b → Sigmoid (then [1 − p, p] by Sub and Concat) or Softmax(axis 1) → Cast
 * to float32 → probabilities [batch, K].
 */
export function glmToOnnx(model: GlmModel): Uint8Array {
  const problems = shapeProblems(model);
  if (problems.length > 0)
    throw new RangeError(
      `model ${model.version} is inconsistent: ${problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; ')}`,
    );
  const width = model.columns.length;
  const outputs = outputsOf(model);
  const initializer = [
    doubleTensor('mean', [width], model.mean),
    doubleTensor('scale', [width], model.scale),
    doubleTensor('W', [width, outputs], model.weights.flat()),
    doubleTensor('b', [outputs], model.intercepts),
  ];
  const { FLOAT, DOUBLE } = onnx.TensorProto.DataType;
  const nodes = [
    node('Cast', [ONNX_IO.input], 'x64', [castTo(DOUBLE)]),
    node('Sub', ['x64', 'mean'], 'centered'),
    node('Div', ['centered', 'scale'], 'z'),
    node('MatMul', ['z', 'W'], 'zw'),
    node('Add', ['zw', 'b'], 'logits'),
  ];
  if (model.link === 'logit') {
    initializer.push(doubleTensor('one', [1], [1]));
    nodes.push(
      node('Sigmoid', ['logits'], 'p_positive'),
      node('Sub', ['one', 'p_positive'], 'p_negative'),
      node('Concat', ['p_negative', 'p_positive'], 'p64', [axis1]),
    );
  } else {
    nodes.push(node('Softmax', ['logits'], 'p64', [axis1]));
  }
  nodes.push(node('Cast', ['p64'], ONNX_IO.output, [castTo(FLOAT)]));
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'open-autoglm',
    modelVersion: versionNumber(model.version),
    docString:
      `GLM ${model.version} (${model.link}): ${width} columns → ${model.classes.length} classes ` +
      `(${model.classes.join(', ')})`,
    metadataProps: [
      { key: ONNX_METADATA.name, value: model.name },
      { key: ONNX_METADATA.version, value: model.version },
      { key: ONNX_METADATA.link, value: model.link },
      { key: ONNX_METADATA.classes, value: JSON.stringify(model.classes) },
      { key: ONNX_METADATA.columns, value: JSON.stringify(model.columns) },
    ],
    graph: {
      name: model.name,
      node: nodes,
      initializer,
      input: [batchOf(ONNX_IO.input, width)],
      output: [batchOf(ONNX_IO.output, model.classes.length)],
    },
  });
  return onnx.ModelProto.encode(proto).finish();
}
