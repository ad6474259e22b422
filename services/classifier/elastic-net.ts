/**
 * The elastic-net GLM optimizer: binary logistic (one output) or multinomial softmax on
 * standardized inputs, fitted by FISTA (proximal gradient with momentum and adaptive restart).
 * Intercepts are not penalized. The objective is the weighted mean log loss plus
 * lambda·(alpha·|W|₁ + (1-alpha)/2·|W|₂²), the glmnet convention, so lambdas are comparable
 * across datasets.
 *
 * Rows are kept sparse (CSR) and never standardized in memory: z = (x - center) / scale is folded
 * into the weights per pass, so hashed token buckets (mostly zero) cost nothing. Numeric columns
 * are stored already centered (center 0) to keep sums of large values free of cancellation.
 */

/** The training rows as a sparse matrix, with what standardizes each column. */
export interface Design {
  readonly rows: number;
  readonly columns: number;
  readonly rowStart: Int32Array;
  readonly column: Int32Array;
  readonly value: Float64Array;
  /** Subtracted from a stored value before dividing by scale (0 for numeric columns: stored centered). */
  readonly center: Float64Array;
  readonly scale: Float64Array;
  /** Class index per row: its class, or for a negative row the class it is not. */
  readonly label: Int32Array;
  /**
   * 1 for a negative row, whose target spreads evenly over every class but `label` (a soft
   * negative; with two classes, the other class); absent when there are none.
   */
  readonly negative?: Uint8Array;
}

/** What one fit sees: the design, which of its rows, their weights (summing to 1), the outputs. */
export interface Problem {
  readonly design: Design;
  readonly rows: Int32Array;
  readonly weight: Float64Array;
  /** 1: logistic, P(class 1); more: softmax over that many classes. */
  readonly outputs: number;
}

/** Reusable buffers for one design's size: passes allocate nothing. */
export interface Scratch {
  readonly effective: Float64Array;
  readonly accumulated: Float64Array;
  readonly effectiveIntercept: Float64Array;
  readonly residualSum: Float64Array;
  readonly logits: Float64Array;
  readonly residual: Float64Array;
}

export function makeScratch(columns: number, outputs: number): Scratch {
  return {
    effective: new Float64Array(columns * outputs),
    accumulated: new Float64Array(columns * outputs),
    effectiveIntercept: new Float64Array(outputs),
    residualSum: new Float64Array(outputs),
    logits: new Float64Array(outputs),
    residual: new Float64Array(outputs),
  };
}

/**
 * A problem over `rows` of `design` with per-class weights, normalized to sum to 1. A negative row
 * weighs what its target does: the mean weight of the classes it spreads over.
 */
export function makeProblem(
  design: Design,
  rows: Int32Array,
  classWeight: Float64Array,
  outputs: number,
): Problem {
  const weight = new Float64Array(rows.length);
  let sumOfWeights = 0;
  for (const w of classWeight) sumOfWeights += w;
  const others = classWeight.length - 1;
  let total = 0;
  for (let t = 0; t < rows.length; t++) {
    const i = rows[t]!;
    const cw = classWeight[design.label[i]!]!;
    total += weight[t] = design.negative?.[i] ? (sumOfWeights - cw) / others : cw;
  }
  for (let t = 0; t < rows.length; t++) weight[t]! /= total;
  return { design, rows, weight, outputs };
}

const softplus = (l: number) => (l > 0 ? l + Math.log1p(Math.exp(-l)) : Math.log1p(Math.exp(l)));
const sigmoid = (l: number) => (l >= 0 ? 1 / (1 + Math.exp(-l)) : Math.exp(l) / (1 + Math.exp(l)));

/**
 * The weighted mean log loss at (W, b) on standardized inputs; when `gradW` is given, also its
 * gradient into `gradW` ([column * outputs + output]) and `gradB`.
 */
export function lossAndGradient(
  problem: Problem,
  W: Float64Array,
  b: Float64Array,
  s: Scratch,
  gradW?: Float64Array,
  gradB?: Float64Array,
): number {
  const { design: d, rows, weight, outputs: K } = problem;
  const { rowStart, column, value, label } = d;
  const negative = d.negative;
  const v = s.effective;
  const bEff = s.effectiveIntercept;
  for (let k = 0; k < K; k++) bEff[k] = b[k]!;
  for (let j = 0; j < d.columns; j++) {
    const inverse = 1 / d.scale[j]!;
    const center = d.center[j]!;
    for (let k = 0; k < K; k++) {
      const e = W[j * K + k]! * inverse;
      v[j * K + k] = e;
      bEff[k]! -= center * e;
    }
  }
  const A = s.accumulated;
  const R = s.residualSum;
  if (gradW) {
    A.fill(0);
    R.fill(0);
  }
  let loss = 0;
  if (K === 1) {
    const b0 = bEff[0]!;
    for (let t = 0; t < rows.length; t++) {
      const i = rows[t]!;
      const end = rowStart[i + 1]!;
      let l = b0;
      for (let q = rowStart[i]!; q < end; q++) l += value[q]! * v[column[q]!]!;
      // Not class c of two: the other one.
      const y = negative?.[i] ? 1 - label[i]! : label[i]!;
      const w = weight[t]!;
      loss += w * (softplus(l) - y * l);
      if (gradW) {
        const r = w * (sigmoid(l) - y);
        R[0]! += r;
        for (let q = rowStart[i]!; q < end; q++) A[column[q]!]! += value[q]! * r;
      }
    }
  } else {
    const logits = s.logits;
    const residual = s.residual;
    const share = 1 / (K - 1);
    for (let t = 0; t < rows.length; t++) {
      const i = rows[t]!;
      const start = rowStart[i]!;
      const end = rowStart[i + 1]!;
      for (let k = 0; k < K; k++) logits[k] = bEff[k]!;
      for (let q = start; q < end; q++) {
        const x = value[q]!;
        const base = column[q]! * K;
        for (let k = 0; k < K; k++) logits[k]! += x * v[base + k]!;
      }
      const y = label[i]!;
      // The target: 1 on class y; for a negative row 1/(K-1) on every class but y.
      const soft = negative?.[i] === 1;
      let max = -Infinity;
      for (let k = 0; k < K; k++) if (logits[k]! > max) max = logits[k]!;
      let targetLogit = logits[y]!;
      if (soft) {
        targetLogit = 0;
        for (let k = 0; k < K; k++) if (k !== y) targetLogit += share * logits[k]!;
      }
      let sum = 0;
      for (let k = 0; k < K; k++) sum += logits[k] = Math.exp(logits[k]! - max);
      const w = weight[t]!;
      loss += w * (Math.log(sum) + max - targetLogit);
      if (gradW) {
        for (let k = 0; k < K; k++) {
          const target = soft ? (k === y ? 0 : share) : k === y ? 1 : 0;
          const r = w * (logits[k]! / sum - target);
          residual[k] = r;
          R[k]! += r;
        }
        for (let q = start; q < end; q++) {
          const x = value[q]!;
          const base = column[q]! * K;
          for (let k = 0; k < K; k++) A[base + k]! += x * residual[k]!;
        }
      }
    }
  }
  if (gradW && gradB) {
    for (let j = 0; j < d.columns; j++) {
      const inverse = 1 / d.scale[j]!;
      const center = d.center[j]!;
      for (let k = 0; k < K; k++) gradW[j * K + k] = (A[j * K + k]! - center * R[k]!) * inverse;
    }
    for (let k = 0; k < K; k++) gradB[k] = R[k]!;
  }
  return loss;
}

/** The elastic-net penalty of W. */
export function penalty(W: Float64Array, lambda: number, alpha: number): number {
  if (lambda === 0) return 0;
  let l1 = 0;
  let l2 = 0;
  for (let q = 0; q < W.length; q++) {
    l1 += Math.abs(W[q]!);
    l2 += W[q]! * W[q]!;
  }
  return lambda * (alpha * l1 + ((1 - alpha) / 2) * l2);
}

/**
 * A Lipschitz constant of the loss gradient: the largest eigenvalue of the weighted Gram matrix of
 * [z, 1] (power iteration over the rows) times 1/4 (logistic) or 1/2 (softmax, Böhning's bound).
 */
export function lipschitz(problem: Problem): number {
  const { design: d, rows, weight } = problem;
  const p = d.columns;
  let vector = new Float64Array(p + 1).fill(1 / Math.sqrt(p + 1));
  let next = new Float64Array(p + 1);
  let eigenvalue = 1;
  for (let iteration = 0; iteration < 100; iteration++) {
    next.fill(0);
    let shift = vector[p]!;
    for (let j = 0; j < p; j++) shift -= (d.center[j]! * vector[j]!) / d.scale[j]!;
    let weightedDots = 0;
    for (let t = 0; t < rows.length; t++) {
      const i = rows[t]!;
      const end = d.rowStart[i + 1]!;
      let dot = shift;
      for (let q = d.rowStart[i]!; q < end; q++)
        dot += (d.value[q]! * vector[d.column[q]!]!) / d.scale[d.column[q]!]!;
      const wd = weight[t]! * dot;
      weightedDots += wd;
      for (let q = d.rowStart[i]!; q < end; q++)
        next[d.column[q]!]! += (wd * d.value[q]!) / d.scale[d.column[q]!]!;
    }
    for (let j = 0; j < p; j++) next[j]! -= (d.center[j]! * weightedDots) / d.scale[j]!;
    next[p] = weightedDots;
    let norm = 0;
    for (let j = 0; j <= p; j++) norm += next[j]! * next[j]!;
    norm = Math.sqrt(norm);
    if (norm === 0) break;
    for (let j = 0; j <= p; j++) next[j]! /= norm;
    const settled = Math.abs(norm - eigenvalue) <= 1e-6 * norm;
    eigenvalue = norm;
    [vector, next] = [next, vector];
    if (settled) break;
  }
  // Power iteration approaches from below: a margin keeps the step safe.
  return eigenvalue * 1.05 * (problem.outputs === 1 ? 0.25 : 0.5);
}

/** The best intercepts with all weights zero: the log odds / log shares of the weighted classes. */
export function interceptOnly(problem: Problem, classes: number): Float64Array {
  const share = new Float64Array(classes);
  const { label, negative } = problem.design;
  for (let t = 0; t < problem.rows.length; t++) {
    const i = problem.rows[t]!;
    const w = problem.weight[t]!;
    if (negative?.[i]) {
      for (let k = 0; k < classes; k++) if (k !== label[i]) share[k]! += w / (classes - 1);
    } else share[label[i]!]! += w;
  }
  for (let k = 0; k < classes; k++) share[k] = Math.min(Math.max(share[k]!, 1e-9), 1 - 1e-9);
  if (problem.outputs === 1) return Float64Array.of(Math.log(share[1]! / share[0]!));
  const b = share.map(Math.log);
  const average = b.reduce((a, x) => a + x, 0) / classes;
  return b.map((x) => x - average);
}

/** The smallest lambda at which every weight is zero (glmnet's lambda_max; alpha floored at 1e-3 for ridge). */
export function lambdaMax(problem: Problem, classes: number, alpha: number, s: Scratch): number {
  const W = new Float64Array(problem.design.columns * problem.outputs);
  const gradW = new Float64Array(W.length);
  const gradB = new Float64Array(problem.outputs);
  lossAndGradient(problem, W, interceptOnly(problem, classes), s, gradW, gradB);
  let max = 0;
  for (let q = 0; q < gradW.length; q++) max = Math.max(max, Math.abs(gradW[q]!));
  return max > 0 ? max / Math.max(alpha, 1e-3) : 1;
}

/**
 * The curvature bound a step uses. `gram`: the loss's Hessian is at most `curvature`·G per output
 * (G the weighted Gram matrix of [z, 1]; Böhning's bound, 1/4 logistic, 1/2 softmax), so each step
 * minimizes that quadratic plus the penalty by coordinate descent: collinear inputs do not slow it.
 * `lipschitz`: a plain proximal gradient step of 1/L, for designs too wide for a Gram matrix.
 */
export type Metric =
  | { readonly kind: 'gram'; readonly gram: Float64Array; readonly curvature: number }
  | { readonly kind: 'lipschitz'; readonly lipschitz: number };

/** Widest design (columns) that gets a Gram matrix: (columns + 1)² doubles, 8 MB at 1024. */
export const MAX_GRAM_COLUMNS = 1024;

/** The metric for `problem`: the Gram bound when it is narrow enough, else a Lipschitz step. */
export function metricOf(problem: Problem): Metric {
  const curvature = problem.outputs === 1 ? 0.25 : 0.5;
  if (problem.design.columns > MAX_GRAM_COLUMNS) return { kind: 'lipschitz', lipschitz: lipschitz(problem) };
  return { kind: 'gram', gram: gramMatrix(problem), curvature };
}

/** The weighted Gram matrix of the standardized columns plus an intercept column (last). */
export function gramMatrix(problem: Problem): Float64Array {
  const { design: d, rows, weight } = problem;
  const p = d.columns;
  const P = p + 1;
  const raw = new Float64Array(P * P);
  const sums = new Float64Array(p);
  for (let t = 0; t < rows.length; t++) {
    const i = rows[t]!;
    const w = weight[t]!;
    const end = d.rowStart[i + 1]!;
    for (let q = d.rowStart[i]!; q < end; q++) {
      const a = d.column[q]!;
      const wx = w * d.value[q]!;
      sums[a]! += wx;
      for (let r = q; r < end; r++) raw[a * P + d.column[r]!]! += wx * d.value[r]!;
    }
  }
  // Stored values x̃ standardize as (x̃ - center) / scale; the weights sum to 1.
  const gram = new Float64Array(P * P);
  for (let a = 0; a < p; a++) {
    const ma = d.center[a]!;
    for (let c = a; c < p; c++) {
      const mc = d.center[c]!;
      const sum = a === c ? raw[a * P + c]! : raw[a * P + c]! + raw[c * P + a]!;
      const g = (sum - ma * sums[c]! - mc * sums[a]! + ma * mc) / (d.scale[a]! * d.scale[c]!);
      gram[a * P + c] = g;
      gram[c * P + a] = g;
    }
    const g = (sums[a]! - ma) / d.scale[a]!;
    gram[a * P + p] = g;
    gram[p * P + a] = g;
  }
  gram[p * P + p] = 1;
  return gram;
}

/** How a fit ended. */
export interface Fit {
  readonly iterations: number;
  /** The penalized objective at the returned weights. */
  readonly objective: number;
  readonly converged: boolean;
}

/** Solver settings: stop when the objective changes by less than `tolerance` (relative) three times in a row. */
export interface SolveOptions {
  readonly metric: Metric;
  readonly tolerance: number;
  readonly maxIterations: number;
}

/**
 * Minimizes the objective at `lambda`, starting from and writing into W and b (warm start):
 * accelerated proximal steps in the metric (FISTA), momentum restarted when it points uphill
 * (O'Donoghue & Candès).
 */
export function solve(
  problem: Problem,
  lambda: number,
  alpha: number,
  W: Float64Array,
  b: Float64Array,
  s: Scratch,
  options: SolveOptions,
): Fit {
  const n = W.length;
  const K = b.length;
  let xW = Float64Array.from(W);
  let xB = Float64Array.from(b);
  let newW = new Float64Array(n);
  let newB = new Float64Array(K);
  const yW = Float64Array.from(W);
  const yB = Float64Array.from(b);
  const gradW = new Float64Array(n);
  const gradB = new Float64Array(K);
  const step = makeStep(options.metric, problem.design.columns, K, lambda, alpha);
  let momentum = 1;
  let previous = Infinity;
  let calm = 0;
  let iterations = 0;
  let converged = false;
  while (iterations < options.maxIterations) {
    iterations++;
    const objective = lossAndGradient(problem, yW, yB, s, gradW, gradB) + penalty(yW, lambda, alpha);
    if (Math.abs(previous - objective) <= options.tolerance * Math.max(Math.abs(objective), 1e-12)) {
      if (++calm >= 3) {
        converged = true;
        break;
      }
    } else calm = 0;
    previous = objective;
    step(yW, yB, gradW, gradB, newW, newB);
    let uphill = 0;
    for (let q = 0; q < n; q++) uphill += (yW[q]! - newW[q]!) * (newW[q]! - xW[q]!);
    for (let k = 0; k < K; k++) uphill += (yB[k]! - newB[k]!) * (newB[k]! - xB[k]!);
    if (uphill > 0) {
      momentum = 1;
      yW.set(newW);
      yB.set(newB);
    } else {
      const nextMomentum = (1 + Math.sqrt(1 + 4 * momentum * momentum)) / 2;
      const beta = (momentum - 1) / nextMomentum;
      for (let q = 0; q < n; q++) yW[q] = newW[q]! + beta * (newW[q]! - xW[q]!);
      for (let k = 0; k < K; k++) yB[k] = newB[k]! + beta * (newB[k]! - xB[k]!);
      momentum = nextMomentum;
    }
    [xW, newW] = [newW, xW];
    [xB, newB] = [newB, xB];
  }
  W.set(xW);
  b.set(xB);
  const objective = lossAndGradient(problem, W, b, s) + penalty(W, lambda, alpha);
  return { iterations, objective, converged };
}

type Step = (
  yW: Float64Array,
  yB: Float64Array,
  gradW: Float64Array,
  gradB: Float64Array,
  outW: Float64Array,
  outB: Float64Array,
) => void;

/** Coordinate descent stops when its largest move falls below this share of its first sweep's. */
const INNER_REDUCTION = 1e-3;
const INNER_TOLERANCE = 1e-12;
const MAX_SWEEPS = 50;

/** The proximal map of one step from y with gradient g, in the metric. */
function makeStep(metric: Metric, p: number, K: number, lambda: number, alpha: number): Step {
  const l1 = lambda * alpha;
  const l2 = lambda * (1 - alpha);
  if (metric.kind === 'lipschitz') {
    const t = 1 / metric.lipschitz;
    const threshold = t * l1;
    const shrink = 1 / (1 + t * l2);
    return (yW, yB, gradW, gradB, outW, outB) => {
      for (let q = 0; q < yW.length; q++) {
        const u = yW[q]! - t * gradW[q]!;
        outW[q] = u > threshold ? (u - threshold) * shrink : u < -threshold ? (u + threshold) * shrink : 0;
      }
      for (let k = 0; k < K; k++) outB[k] = yB[k]! - t * gradB[k]!;
    };
  }
  const { gram, curvature } = metric;
  const P = p + 1;
  const w = new Float64Array(P);
  const g = new Float64Array(P);
  const h = new Float64Array(P);
  return (yW, yB, gradW, gradB, outW, outB) => {
    for (let k = 0; k < K; k++) {
      // Minimize gᵀ(w - y) + ½(w - y)ᵀ·curvature·G·(w - y) + penalty(w) over one output's column;
      // h = curvature·G·(w - y) is kept current, so a coordinate costs O(1) unless it moves.
      for (let j = 0; j < p; j++) {
        w[j] = yW[j * K + k]!;
        g[j] = gradW[j * K + k]!;
      }
      w[p] = yB[k]!;
      g[p] = gradB[k]!;
      h.fill(0);
      let enough = INNER_TOLERANCE;
      for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
        let largest = 0;
        for (let j = 0; j < P; j++) {
          const diagonal = curvature * gram[j * P + j]!;
          const current = w[j]!;
          let next: number;
          if (j === p) next = current - (g[j]! + h[j]!) / diagonal;
          else {
            const a = diagonal + l2;
            if (!(a > 1e-12)) continue;
            const u = a * current - (g[j]! + h[j]! + l2 * current);
            next = u > l1 ? (u - l1) / a : u < -l1 ? (u + l1) / a : 0;
          }
          const delta = next - current;
          if (delta === 0) continue;
          w[j] = next;
          const scaled = curvature * delta;
          const row = j * P;
          for (let l = 0; l < P; l++) h[l]! += scaled * gram[row + l]!;
          largest = Math.max(largest, Math.abs(delta) * Math.sqrt(diagonal));
        }
        if (sweep === 0) enough = Math.max(INNER_TOLERANCE, largest * INNER_REDUCTION);
        if (largest <= enough) break;
      }
      for (let j = 0; j < p; j++) outW[j * K + k] = w[j]!;
      outB[k] = w[p]!;
    }
  };
}
