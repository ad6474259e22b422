/**
 * Serving: a model folder checked and opened in onnxruntime, one session per loaded model, every
 * call batched into one input tensor.
 */
import fs from 'node:fs';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { MODEL_FILES, ModelLoadError, modelStamp, readModelJson } from './model-files.js';
import { UNKNOWN_CLASS, abstainReason } from './abstain.js';
import { ClassifiedIncident } from './incident-fact.js';
import type { GlmModel, IncidentFact, ModelInput } from './model-types.js';
import { ONNX_IO, ONNX_METADATA } from './onnx-export.js';
import { vectorizeRows } from './vectorize.js';

const { onnx } = onnxProto;

/** How the onnxruntime session runs. */
export interface ClassifierOptions {
  /**
   * Threads of one inference (default 1): decide's batches are small and a second thread costs
   * more to wake than it saves; raise it for large offline batches.
   */
  readonly intraOpNumThreads?: number;
}

/** int64 fields decode as Long objects when the `long` package is present. */
function toNumber(value: number | { toNumber(): number } | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === 'number' ? value : value.toNumber();
}

/** `[batch, width]` float32, as the graph's input or output should be; or what is wrong with it. */
function tensorProblem(
  role: string,
  value: onnxProto.onnx.IValueInfoProto | undefined,
  name: string,
  width: number,
): string | undefined {
  if (value?.name !== name) return `${role} should be "${name}", found "${value?.name ?? '(none)'}"`;
  const tensor = value.type?.tensorType;
  if (tensor?.elemType !== onnx.TensorProto.DataType.FLOAT) return `${role} "${name}" is not float32`;
  const dims = tensor.shape?.dim ?? [];
  const shown = dims.map((d) => d.dimParam || (toNumber(d.dimValue) ?? '?')).join(', ');
  if (dims.length !== 2 || toNumber(dims[1]?.dimValue) !== width)
    return `${role} "${name}" has shape [${shown}], expected [batch, ${width}]`;
  return undefined;
}

/** What keeps `bytes` from being the graph of `model`; empty when it is. Throws when it is no ONNX at all. */
function onnxProblems(file: string, bytes: Uint8Array, model: GlmModel): string[] {
  if (bytes.length === 0) throw new ModelLoadError(file, ['empty file']);
  let proto: onnxProto.onnx.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new ModelLoadError(file, [`not an ONNX model (protobuf parse failed: ${(err as Error).message})`]);
  }
  const graph = proto.graph;
  if (!graph) throw new ModelLoadError(file, ['not an ONNX model (no graph)']);
  const meta = new Map(proto.metadataProps.map((p) => [p.key, p.value]));
  const problems: string[] = [];
  const version = meta.get(ONNX_METADATA.version);
  if (version === undefined) problems.push('has no "version" metadata (not written by open-autoglm)');
  else if (version !== model.version)
    problems.push(
      `version ${version} does not match model.json's ${model.version} (the files come from different trainings)`,
    );
  const same: [string, unknown][] = [
    [ONNX_METADATA.link, model.link],
    [ONNX_METADATA.classes, JSON.stringify(model.classes)],
    [ONNX_METADATA.columns, JSON.stringify(model.columns)],
  ];
  for (const [key, expected] of same)
    if (version !== undefined && meta.get(key) !== expected)
      problems.push(`"${key}" metadata does not match model.json`);
  // Before IR 4 initializers could be listed as inputs too; only the real input counts.
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name));
  const outputs = graph.output ?? [];
  if (inputs.length !== 1) problems.push(`has ${inputs.length} inputs, expected 1 ("${ONNX_IO.input}")`);
  if (outputs.length !== 1) problems.push(`has ${outputs.length} outputs, expected 1 ("${ONNX_IO.output}")`);
  const input = tensorProblem('input', inputs[0], ONNX_IO.input, model.columns.length);
  const output = tensorProblem('output', outputs[0], ONNX_IO.output, model.classes.length);
  for (const p of [input, output]) if (p !== undefined) problems.push(p);
  return problems;
}

/**
 * model.json of the folder, validated, once both model files exist; a missing model.onnx and a
 * missing or invalid model.json are reported together (one ModelLoadError naming the folder when
 * both files have problems), so one fix round covers them.
 */
function readModelFolder(dir: string): GlmModel {
  const jsonFile = path.join(dir, MODEL_FILES.json);
  const onnxMissing = !fs.existsSync(path.join(dir, MODEL_FILES.onnx));
  const problems: { file: string; problem: string }[] = [];
  let model: GlmModel | undefined;
  if (!fs.existsSync(jsonFile)) problems.push({ file: jsonFile, problem: 'missing' });
  else
    try {
      model = readModelJson(dir);
    } catch (err) {
      if (!(err instanceof ModelLoadError)) throw err;
      for (const problem of err.problems) problems.push({ file: jsonFile, problem });
    }
  if (onnxMissing) problems.push({ file: path.join(dir, MODEL_FILES.onnx), problem: 'missing' });
  if (model && problems.length === 0) return model;
  const files = new Set(problems.map((p) => p.file));
  if (files.size === 1)
    throw new ModelLoadError(
      problems[0]!.file,
      problems.map((p) => p.problem),
    );
  throw new ModelLoadError(
    dir,
    problems.map((p) => `${path.basename(p.file)}: ${p.problem}`),
  );
}

/** The incident classifier of one model folder, run by onnxruntime. */
export class IncidentClassifier {
  /** The model as model.json describes it (features and means for vectorizing, classes). */
  readonly model: GlmModel;
  readonly version: string;
  /** modelStamp() of the folder just before it was read, for hot-swap polling. */
  readonly stamp: string;
  readonly #session: InferenceSession;
  readonly #width: number;
  /** Reused input rows of classify(), grown as needed; a concurrent call takes a fresh array. */
  #scratch: Float32Array;
  #scratchBusy = false;
  /** The last input tensor over #scratch, reused while the row count repeats. */
  #tensor: { rows: number; tensor: Tensor } | undefined;

  private constructor(model: GlmModel, session: InferenceSession, stamp: string) {
    this.model = model;
    this.version = model.version;
    this.stamp = stamp;
    this.#session = session;
    this.#width = model.columns.length;
    this.#scratch = new Float32Array(this.#width * 64);
  }

  /**
   * Opens `<dir>/model.onnx` with `<dir>/model.json` after checking that both exist, that model.json
   * is a GlmModel and that the ONNX graph is its graph (version, classes, columns, input and output);
   * any problem throws ModelLoadError naming the file and the fix.
   */
  static async load(dir: string, options: ClassifierOptions = {}): Promise<IncidentClassifier> {
    const stamp = modelStamp(dir);
    if (!fs.existsSync(dir)) throw new ModelLoadError(dir, ['no such model folder']);
    const onnxFile = path.join(dir, MODEL_FILES.onnx);
    const model = readModelFolder(dir);
    const bytes = fs.readFileSync(onnxFile);
    const problems = onnxProblems(onnxFile, bytes, model);
    if (problems.length > 0) throw new ModelLoadError(onnxFile, problems);
    let session: InferenceSession;
    try {
      session = await InferenceSession.create(bytes, {
        executionProviders: ['cpu'],
        intraOpNumThreads: options.intraOpNumThreads ?? 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
      });
    } catch (err) {
      throw new ModelLoadError(onnxFile, [`onnxruntime refused the graph (${(err as Error).message})`]);
    }
    return new IncidentClassifier(model, session, stamp);
  }

  /**
   * One incident fact per input, in order; class is the most probable one. The facts share this
   * call's output: each builds its probabilities record when first read (ClassifiedIncident).
   */
  async classify(inputs: readonly ModelInput[]): Promise<IncidentFact[]> {
    const rows = inputs.length;
    if (rows === 0) return [];
    const { features, mean, classes } = this.model;
    const width = this.#width;
    // onnxruntime reads the input on a later tick, so the shared rows serve one call at a time.
    const shared = !this.#scratchBusy;
    let tensor: Tensor;
    let x: Float32Array;
    if (shared) {
      this.#scratchBusy = true;
      ({ x, tensor } = this.#scratchTensor(rows));
    } else {
      x = new Float32Array(rows * width);
      tensor = new Tensor('float32', x, [rows, width]);
    }
    try {
      vectorizeRows(inputs, features, mean, x);
      return factsOf(await this.#run(tensor), rows, classes, this.version, this.model, x);
    } finally {
      if (shared) this.#scratchBusy = false;
    }
  }

  /**
   * Probabilities of `rows` input vectors laid row after row in `x` (its first rows × columns
   * values): rows × classes values, in class order.
   */
  async classifyVectors(x: Float32Array, rows: number): Promise<Float32Array> {
    const width = this.#width;
    if (!Number.isInteger(rows) || rows < 0 || x.length < rows * width)
      throw new RangeError(`classifyVectors: ${rows} rows need ${rows * width} values, got ${x.length}`);
    if (rows === 0) return new Float32Array(0);
    const data = x.length === rows * width ? x : x.subarray(0, rows * width);
    return this.#run(new Tensor('float32', data, [rows, width]));
  }

  /** Frees the onnxruntime session; the classifier cannot be used afterwards. */
  async release(): Promise<void> {
    await this.#session.release();
  }

  async #run(input: Tensor): Promise<Float32Array> {
    const out = await this.#session.run({ [ONNX_IO.input]: input });
    const probabilities = out[ONNX_IO.output];
    if (probabilities?.type !== 'float32')
      throw new Error(`model ${this.version} gave no float32 probabilities`);
    return probabilities.data as Float32Array;
  }

  /** The first `rows` rows of the reused input and a tensor over them. */
  #scratchTensor(rows: number): { x: Float32Array; tensor: Tensor } {
    const width = this.#width;
    if (this.#scratch.length < rows * width) {
      this.#scratch = new Float32Array(Math.max(rows, 2 * (this.#scratch.length / width)) * width);
      this.#tensor = undefined;
    }
    if (this.#tensor?.rows !== rows) {
      const x = this.#scratch.subarray(0, rows * width);
      this.#tensor = { rows, tensor: new Tensor('float32', x, [rows, width]) };
    }
    return { x: this.#tensor.tensor.data as Float32Array, tensor: this.#tensor.tensor };
  }
}

/**
 * The facts of `rows` rows of probabilities `p` (classes values each). Kept out of the async
 * classify(): V8 deoptimized this loop there on every call, resumed after the await.
 */
function factsOf(
  p: Float32Array,
  rows: number,
  classes: readonly string[],
  version: string,
  model: GlmModel,
  x: Float32Array,
): IncidentFact[] {
  const batch = { classes, probabilities: p };
  const k = classes.length;
  const width = model.columns.length;
  const facts = new Array<IncidentFact>(rows);
  for (let i = 0, at = 0; i < rows; i++, at += k) {
    // The first most probable class, as an argmax over the row.
    let best = 0;
    let top = p[at]!;
    for (let c = 1; c < k; c++) {
      const q = p[at + c]!;
      if (q > top) {
        top = q;
        best = c;
      }
    }
    // The classifier abstains when unsure or far from its training data (abstain.ts).
    const reason = abstainReason(model, x, i * width, classes[best]!, top);
    facts[i] =
      reason === undefined
        ? new ClassifiedIncident(batch, at, classes[best]!, top, version)
        : new ClassifiedIncident(batch, at, UNKNOWN_CLASS, top, version, reason);
  }
  return facts;
}
