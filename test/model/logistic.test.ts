import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { Pipeline } from '../../src/features/pipeline.js';
import { fitLogistic, regularisedLoss, solveOrdered, solveSymmetricPositiveDefinite, fillReducingOrder } from '../../src/model/logistic.js';
import { labelsOf } from '../../src/model/training.js';
import { seededRandom } from '../../src/model/metrics.js';
import { generateLeads } from '../fixtures/olist.js';

function fixtureDesign() {
  const leads = generateLeads(1500, 3);
  const pipeline = new Pipeline({ features: ['origin', 'landing_page_id', 'weekday'], minCategoryCount: 1 }).fit(leads);
  const design = { rows: leads.length, activePerRow: pipeline.stepCount, featureCount: pipeline.featureCount, indices: pipeline.transformAll(leads) };
  return { design, labels: labelsOf(leads) };
}

describe('fitLogistic', () => {
  it('stops where the regularised gradient vanishes (max-norm below 1e-6)', () => {
    const { design, labels } = fixtureDesign();
    for (const C of [0.01, 0.1, 1, 10]) {
      const fit = fitLogistic(design, labels, { C });
      const { gradient } = regularisedLoss(fit, design, labels, C);
      expect(Math.max(...gradient.map(Math.abs))).toBeLessThan(1e-6);
      expect(fit.gradientMaxNorm).toBeLessThan(1e-6);
    }
  });

  it('reaches the closed-form optimum when one feature is always on', () => {
    // Then Σ(μ − y) = 0 forces μ to the base rate, and w/C = −Σ(μ − y) = 0 forces w to 0.
    const labels = [1, 0, 0, 0, 1, 0, 0, 0, 0, 0];
    const design = { rows: 10, activePerRow: 1, featureCount: 1, indices: new Int32Array(10) };
    const fit = fitLogistic(design, labels, { C: 1 });
    expect(fit.weights[0]).toBeCloseTo(0, 8);
    expect(fit.intercept).toBeCloseTo(Math.log(0.2 / 0.8), 8);
  });

  it('has a gradient that agrees with finite differences of the loss', () => {
    const { design, labels } = fixtureDesign();
    const model = { intercept: -1.5, weights: new Float64Array(design.featureCount).map((_, j) => Math.sin(j)) };
    const { loss, gradient } = regularisedLoss(model, design, labels, 0.5);
    for (const j of [0, 3, 20]) {
      const shifted = { intercept: model.intercept, weights: Float64Array.from(model.weights) };
      const h = 1e-6;
      if (j === 0) shifted.intercept += h;
      else shifted.weights[j - 1]! += h;
      const numeric = (regularisedLoss(shifted, design, labels, 0.5).loss - loss) / h;
      expect(numeric).toBeCloseTo(gradient[j]!, 2);
    }
  });

  it('regularises harder with smaller C', () => {
    const { design, labels } = fixtureDesign();
    const norm = (w: Float64Array) => Math.hypot(...w);
    expect(norm(fitLogistic(design, labels, { C: 0.01 }).weights)).toBeLessThan(norm(fitLogistic(design, labels, { C: 1 }).weights));
  });

  it('matches weights computed independently (golden values)', () => {
    // 24 leads, origins 0–2 and pages 3–6 one-hot, C = 0.5. Expected values from a separate dense
    // Newton (IRLS) solve in numpy on the same design (X with an all-ones column, penalty ‖w‖²/(2C)
    // on all but the intercept, iterated until the gradient's max-norm was 3e-16); the design and
    // labels were drawn once with numpy.random.RandomState(3) and are written out here.
    const rows = [[2, 5], [0, 5], [1, 6], [0, 3], [0, 4], [0, 6], [1, 5], [1, 4], [2, 3], [1, 5], [1, 4], [2, 4], [1, 5], [2, 3], [0, 6], [0, 5], [0, 6], [1, 3], [2, 6], [0, 4], [2, 6], [1, 6], [2, 3], [2, 4]];
    const labels = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1];
    const expected = [0.2346994511708018, -0.29683476170951295, -0.06936826939173298, 0.366203031101246, 0.6606497806398468, -0.09916511455421809, -0.0686106716327696, -0.49287399445285907];
    const design = { rows: rows.length, activePerRow: 2, featureCount: 7, indices: Int32Array.from(rows.flat()) };
    const fit = fitLogistic(design, labels, { C: 0.5, tolerance: 1e-12 });
    expect(fit.converged).toBe(true);
    expect(fit.intercept).toBeCloseTo(expected[0]!, 10);
    fit.weights.forEach((w, j) => expect(w).toBeCloseTo(expected[j + 1]!, 10));
  });

  it('reports non-convergence instead of returning a half-fitted model as if it were done', () => {
    const { design, labels } = fixtureDesign();
    const fit = fitLogistic(design, labels, { C: 1, maxIterations: 1 });
    expect(fit).toMatchObject({ converged: false, iterations: 1, maxIterations: 1, tolerance: 1e-8 });
    expect(fit.gradientMaxNorm).toBeGreaterThan(1e-8);
    expect(fitLogistic(design, labels, { C: 1 })).toMatchObject({ converged: true });
  });

  it('halves the step when a full Newton step would raise the loss, and still reaches the optimum', () => {
    const { design, labels } = fixtureDesign();
    const cold = fitLogistic(design, labels, { C: 1 });
    expect(cold.halvings).toBe(0);
    // From a start where every prediction is near 1 (log-odds about 6) the curvature is small, so
    // the first Newton steps are too long and overshoot: the line search must cut them down.
    const far = { intercept: 3, weights: new Float64Array(design.featureCount).fill(1) };
    const warm = fitLogistic(design, labels, { C: 1, initial: far });
    expect(warm.halvings).toBeGreaterThan(0);
    expect(warm.converged).toBe(true);
    expect(warm.intercept).toBeCloseTo(cold.intercept, 8);
    warm.weights.forEach((w, j) => expect(w).toBeCloseTo(cold.weights[j]!, 8));
  });

  it('starts warm from given weights and needs fewer iterations near the optimum', () => {
    const { design, labels } = fixtureDesign();
    const atOne = fitLogistic(design, labels, { C: 1 });
    const cold = fitLogistic(design, labels, { C: 1.2 });
    const warm = fitLogistic(design, labels, { C: 1.2, initial: atOne });
    expect(warm.iterations).toBeLessThan(cold.iterations);
    warm.weights.forEach((w, j) => expect(w).toBeCloseTo(cold.weights[j]!, 8));
    expect(() => fitLogistic(design, labels, { C: 1, initial: { intercept: 0, weights: new Float64Array(2) } })).toThrow(/initial model has 2 weights/);
  });

  it('refuses a non-positive C and mismatched labels', () => {
    const { design, labels } = fixtureDesign();
    expect(() => fitLogistic(design, labels, { C: 0 })).toThrow(/C must be a positive number/);
    expect(() => fitLogistic(design, labels.slice(1), { C: 1 })).toThrow(/expected 1500 labels/);
  });
});

describe('solveSymmetricPositiveDefinite', () => {
  it('agrees with ml-matrix on a sparse SPD matrix, in any order', () => {
    const random = seededRandom(11);
    const n = 30;
    const b = new Matrix(n, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (random() < 0.15) b.set(i, j, random() - 0.5);
    const spd = b.mmul(b.transpose()).add(Matrix.eye(n).mul(0.5));
    const rhs = Float64Array.from({ length: n }, () => random());
    const expected = new CholeskyDecomposition(spd).solve(Matrix.columnVector(Array.from(rhs))).to1DArray();
    const flat = Float64Array.from(spd.to1DArray());
    const direct = solveSymmetricPositiveDefinite(flat, n, rhs);
    const ordered = solveOrdered(flat, n, rhs, fillReducingOrder(flat, n));
    expected.forEach((x, i) => {
      expect(direct[i]).toBeCloseTo(x, 10);
      expect(ordered[i]).toBeCloseTo(x, 10);
    });
  });

  it('refuses a matrix that is not positive definite', () => {
    expect(() => solveSymmetricPositiveDefinite(Float64Array.from([1, 2, 2, 1]), 2, Float64Array.from([1, 1]))).toThrow(/not positive definite/);
  });
});
