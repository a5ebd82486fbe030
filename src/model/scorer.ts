// The one scorer every consumer uses: artifact → lookup tables → probability, tier and reasons.
import type { Lead } from '../features/lead.js';
import { extractCategory, OTHER, Pipeline, type FeatureName } from '../features/pipeline.js';
import type { Artifact } from './artifact.js';
import { sigmoid } from './logistic.js';
import { tierOf, type Tier, type TierCutPoints } from './tiers.js';

export interface Contribution {
  readonly feature: FeatureName;
  /** The category the model used: the lead's own value, or "(other)" for one it never learned. */
  value: string;
  /** Log-odds this value adds to the intercept. */
  contribution: number;
}

export interface LeadScore {
  probability: number;
  tier: Tier;
  explanation: Contribution[];
}

interface StepTable {
  feature: FeatureName;
  weightOf: Map<string, number>;
  otherWeight: number;
  /** One frozen reason per category, made at load time and shared by every score that uses it. */
  reasonOf: Map<string, Contribution>;
  otherReason: Contribution;
}

const byMagnitude = (a: Contribution, b: Contribution) => Math.abs(b.contribution) - Math.abs(a.contribution);

/**
 * Built once when the model loads: each pipeline step becomes a map from category to weight,
 * so scoring a lead is one lookup per step and a sum, in the same order as training's scoring.
 */
export class Scorer {
  readonly version: string;
  private readonly intercept: number;
  private readonly steps: StepTable[];
  private readonly cuts: TierCutPoints;

  constructor(artifact: Artifact) {
    const pipeline = Pipeline.fromJSON(artifact.pipeline);
    const state = pipeline.toJSON();
    this.version = artifact.model_version;
    this.intercept = artifact.model.intercept;
    this.cuts = artifact.tiers;
    this.steps = state.steps.map(({ feature, categories }) => {
      const weightOf = new Map(categories.map((category) => [category, artifact.model.weights[`${feature}=${category}`]!]));
      const reasonOf = new Map(categories.map((category) => [category, Object.freeze({ feature, value: category, contribution: weightOf.get(category)! })]));
      return { feature, weightOf, otherWeight: weightOf.get(OTHER)!, reasonOf, otherReason: reasonOf.get(OTHER)! };
    });
  }

  probability(lead: Lead): number {
    let z = this.intercept;
    for (const step of this.steps) z += step.weightOf.get(extractCategory(step.feature, lead)) ?? step.otherWeight;
    return sigmoid(z);
  }

  /** Probability and tier without the reasons, for bulk scoring where nobody reads them. */
  rate(lead: Lead): { probability: number; tier: Tier } {
    const probability = this.probability(lead);
    return { probability, tier: tierOf(probability, this.cuts) };
  }

  score(lead: Lead): LeadScore {
    let z = this.intercept;
    const explanation: Contribution[] = [];
    for (const step of this.steps) {
      const reason = step.reasonOf.get(extractCategory(step.feature, lead)) ?? step.otherReason;
      z += reason.contribution;
      explanation.push(reason);
    }
    const probability = sigmoid(z);
    return { probability, tier: tierOf(probability, this.cuts), explanation: explanation.sort(byMagnitude) };
  }

  /** Every reason a score can give, for consumers that prepare their output once (the HTTP serializer). */
  get reasons(): readonly Contribution[] {
    return this.steps.flatMap((step) => [...step.reasonOf.values()]);
  }
}
