// L2-regularised logistic regression fitted by Newton's method on one-hot (sparse binary) inputs.

/** Rows of 0/1 inputs, each given by the indices of its ones: `indices[i*activePerRow + s]`. */
export interface SparseBinaryDesign {
  rows: number;
  activePerRow: number;
  featureCount: number;
  indices: Int32Array;
}

export interface FitOptions {
  /** Inverse regularisation strength, scikit-learn's convention: penalty ‖w‖² / (2C); the intercept is not penalised. */
  C: number;
  /** Stop when the largest gradient component of the regularised loss is below this. */
  tolerance?: number;
  maxIterations?: number;
  /** Start from these weights instead of zero (a warm start along a path of C on the same design). */
  initial?: LogisticModel;
}

export interface LogisticModel {
  intercept: number;
  weights: Float64Array;
}

export interface FitResult extends LogisticModel {
  /** Whether the gradient's max-norm fell below the tolerance within maxIterations. */
  converged: boolean;
  iterations: number;
  /** Max-norm of the regularised loss's gradient at the returned weights. */
  gradientMaxNorm: number;
  loss: number;
  /** The settings this fit ran with, so what an artifact records is what was used. */
  tolerance: number;
  maxIterations: number;
  /** Step halvings the line search needed over the whole fit (0 when every Newton step was taken whole). */
  halvings: number;
}

export function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

/** log(1 + e^z) without overflow. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/** Log-odds of one row; the order of the sum is the scorer's too, so both give the same bits. */
export function linearScore(model: LogisticModel, indices: Int32Array, at: number, count: number): number {
  let z = model.intercept;
  for (let s = 0; s < count; s++) z += model.weights[indices[at + s]!]!;
  return z;
}

export function predictProbabilities(model: LogisticModel, design: SparseBinaryDesign): Float64Array {
  const out = new Float64Array(design.rows);
  for (let i = 0; i < design.rows; i++) {
    out[i] = sigmoid(linearScore(model, design.indices, i * design.activePerRow, design.activePerRow));
  }
  return out;
}

/** Σ log-loss + ‖w‖²/(2C), and its gradient ([intercept, ...weights]). */
export function regularisedLoss(
  model: LogisticModel,
  design: SparseBinaryDesign,
  labels: ArrayLike<number>,
  C: number,
): { loss: number; gradient: Float64Array } {
  const { rows, activePerRow: k, indices, featureCount } = design;
  const gradient = new Float64Array(featureCount + 1);
  let loss = 0;
  for (let i = 0; i < rows; i++) {
    const z = linearScore(model, indices, i * k, k);
    const y = labels[i]!;
    loss += softplus(z) - y * z;
    const residual = sigmoid(z) - y;
    gradient[0]! += residual;
    for (let s = 0; s < k; s++) gradient[1 + indices[i * k + s]!]! += residual;
  }
  for (let j = 0; j < featureCount; j++) {
    const w = model.weights[j]!;
    loss += (w * w) / (2 * C);
    gradient[1 + j]! += w / C;
  }
  return { loss, gradient };
}

function maxAbs(values: Float64Array): number {
  let max = 0;
  for (const value of values) max = Math.max(max, Math.abs(value));
  return max;
}

/**
 * Newton's method with a backtracking line search. The Hessian of a one-hot design only has
 * entries where two features are active in the same row, so it is accumulated in
 * O(rows × active²) and solved by Cholesky; a handful of iterations reaches machine precision.
 */
export function fitLogistic(design: SparseBinaryDesign, labels: ArrayLike<number>, options: FitOptions): FitResult {
  const { C, tolerance = 1e-8, maxIterations = 100, initial } = options;
  if (!(C > 0)) throw new RangeError(`C must be a positive number, got ${C}`);
  if (labels.length !== design.rows) throw new RangeError(`expected ${design.rows} labels, got ${labels.length}`);
  const { rows, activePerRow: k, indices, featureCount: p } = design;
  if (initial && initial.weights.length !== p) throw new RangeError(`the initial model has ${initial.weights.length} weights, the design ${p} features`);
  const dim = p + 1;
  let model: LogisticModel = initial ? { intercept: initial.intercept, weights: Float64Array.from(initial.weights) } : { intercept: 0, weights: new Float64Array(p) };
  let { loss, gradient } = regularisedLoss(model, design, labels, C);
  let iterations = 0;
  let halvings = 0;
  // Three dim × dim buffers (2 MB each at 509 features) reused by every iteration: allocating
  // them afresh made garbage collection a tenth of a training run's time.
  const hessian = new Float64Array(dim * dim);
  const workspace = { permuted: new Float64Array(dim * dim), lower: new Float64Array(dim * dim) };
  let order: Int32Array | undefined;

  while (maxAbs(gradient) >= tolerance && iterations < maxIterations) {
    iterations++;
    // Accumulated in a flat array: Matrix.get/set per entry would dominate the fit.
    hessian.fill(0);
    for (let j = 1; j < dim; j++) hessian[j * dim + j] = 1 / C;
    for (let i = 0; i < rows; i++) {
      const mu = sigmoid(linearScore(model, indices, i * k, k));
      const curvature = mu * (1 - mu);
      hessian[0]! += curvature;
      for (let s = 0; s < k; s++) {
        const a = 1 + indices[i * k + s]!;
        hessian[a]! += curvature;
        for (let t = 0; t < k; t++) hessian[a * dim + 1 + indices[i * k + t]!]! += curvature;
      }
    }
    for (let a = 1; a < dim; a++) hessian[a * dim] = hessian[a]!;
    order ??= fillReducingOrder(hessian, dim); // the sparsity pattern is the same every iteration
    const step = solveOrdered(hessian, dim, gradient, order, workspace);

    let scale = 1;
    for (;;) {
      const candidate: LogisticModel = {
        intercept: model.intercept - scale * step[0]!,
        weights: model.weights.map((w, j) => w - scale * step[j + 1]!),
      };
      const next = regularisedLoss(candidate, design, labels, C);
      // Near the optimum a Newton step changes the loss by less than its rounding error, so a
      // rise within that error is accepted rather than halving the step to nothing.
      if (next.loss <= loss + 1e-12 * Math.abs(loss) || scale < 1e-10) {
        model = candidate;
        ({ loss, gradient } = next);
        break;
      }
      scale /= 2;
      halvings++;
    }
  }
  const gradientMaxNorm = maxAbs(gradient);
  return { ...model, converged: gradientMaxNorm < tolerance, iterations, gradientMaxNorm, loss, tolerance, maxIterations, halvings };
}

/**
 * Solves A x = b for a symmetric positive definite A (row-major, n × n) by Cholesky, A = L Lᵀ.
 * Only the envelope of each row (its first non-zero column to the diagonal) is worked on:
 * fill-in never leaves it, and for a one-hot Hessian ordered by `fillReducingOrder` the
 * envelope of most rows is the diagonal alone, which turns O(n³) into roughly O(n × small²).
 */
export function solveSymmetricPositiveDefinite(matrix: Float64Array, n: number, rhs: Float64Array, lowerWorkspace?: Float64Array): Float64Array {
  if (matrix.length !== n * n) throw new RangeError(`expected a ${n} × ${n} matrix, got ${matrix.length} entries`);
  if (rhs.length !== n) throw new RangeError(`expected a right-hand side of length ${n}, got ${rhs.length}`);
  const first = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let j = 0;
    while (j < i && matrix[i * n + j] === 0) j++;
    first[i] = j;
  }
  // Only entries inside each row's envelope are read, and each is written first, so a reused buffer needs no clearing.
  const lower = lowerWorkspace?.length === n * n ? lowerWorkspace : new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = first[i]!; j <= i; j++) {
      let sum = matrix[i * n + j]!;
      for (let k = Math.max(first[i]!, first[j]!); k < j; k++) sum -= lower[i * n + k]! * lower[j * n + k]!;
      if (j < i) {
        lower[i * n + j] = sum / lower[j * n + j]!;
      } else {
        if (!(sum > 0)) throw new Error('the Hessian is not positive definite; check C and the design');
        lower[i * n + i] = Math.sqrt(sum);
      }
    }
  }
  const x = Float64Array.from(rhs);
  for (let i = 0; i < n; i++) {
    let sum = x[i]!;
    for (let k = first[i]!; k < i; k++) sum -= lower[i * n + k]! * x[k]!;
    x[i] = sum / lower[i * n + i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    x[i] = x[i]! / lower[i * n + i]!;
    for (let k = first[i]!; k < i; k++) x[k] = x[k]! - lower[i * n + k]! * x[i]!;
  }
  return x;
}

/**
 * Rows with the fewest off-diagonal non-zeros first (a static minimum-degree order): the many
 * categories of one step, never active together, come before the few that meet all of them.
 */
export function fillReducingOrder(matrix: Float64Array, n: number): Int32Array {
  const degree = new Int32Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j && matrix[i * n + j] !== 0) degree[i]!++;
  return Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => degree[a]! - degree[b]! || a - b);
}

export function solveOrdered(
  matrix: Float64Array,
  n: number,
  rhs: Float64Array,
  order: Int32Array,
  workspace?: { permuted: Float64Array; lower: Float64Array },
): Float64Array {
  const permuted = workspace?.permuted.length === n * n ? workspace.permuted : new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) permuted[i * n + j] = matrix[order[i]! * n + order[j]!]!;
  const solution = solveSymmetricPositiveDefinite(permuted, n, Float64Array.from(order, (i) => rhs[i]!), workspace?.lower);
  const x = new Float64Array(n);
  order.forEach((original, i) => (x[original] = solution[i]!));
  return x;
}
