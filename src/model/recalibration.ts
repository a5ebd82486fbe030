// Moving a fitted model's base rate to a recent month's: one intercept shift, the ranking untouched.
import { sigmoid } from './logistic.js';

export interface InterceptShift {
  /** Log-odds added to the intercept. */
  shift: number;
  iterations: number;
  /** Mean predicted probability over the leads before and after the shift. */
  meanBefore: number;
  meanAfter: number;
}

/**
 * The shift δ with mean σ(z_i + δ) = converted / n, by Newton's method on the one unknown.
 * Σσ(z_i + δ) rises monotonically in δ, so the root is unique; a bracket kept beside the Newton
 * steps turns any step that would leave it into a bisection, which makes the solve safe even
 * from far away (Newton alone overshoots where the sigmoid is flat).
 */
export function interceptShift(logOdds: ArrayLike<number>, converted: number, tolerance = 1e-13): InterceptShift {
  const n = logOdds.length;
  if (n === 0) throw new RangeError('cannot shift the intercept to an empty month');
  if (!(converted > 0 && converted < n)) {
    throw new RangeError(`cannot match a conversion rate of ${converted} in ${n} leads: the shift would be infinite`);
  }
  const target = converted / n;
  const meanAt = (delta: number) => {
    let sum = 0;
    let slope = 0;
    for (let i = 0; i < n; i++) {
      const mu = sigmoid(logOdds[i]! + delta);
      sum += mu;
      slope += mu * (1 - mu);
    }
    return { mean: sum / n, slope: slope / n };
  };
  const meanBefore = meanAt(0).mean;
  let low = -50;
  let high = 50;
  let delta = 0;
  let iterations = 0;
  for (; iterations < 200; iterations++) {
    const { mean, slope } = meanAt(delta);
    const gap = mean - target;
    if (Math.abs(gap) <= tolerance * target) break;
    if (gap > 0) high = delta;
    else low = delta;
    const next = delta - gap / slope;
    delta = next > low && next < high && Number.isFinite(next) ? next : (low + high) / 2;
  }
  return { shift: delta, iterations, meanBefore, meanAfter: meanAt(delta).mean };
}
