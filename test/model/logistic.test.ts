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
