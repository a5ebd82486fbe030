// The one feature pipeline: training fits it, the artifact keeps its state, serving only transforms.
import { z } from 'zod';
import { isoDay, parseLeadDate, weekdayOf, type Lead } from './lead.js';

export const MISSING = '(missing)';
export const OTHER = '(other)';

const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;

/**
 * Each step reads one categorical value off a lead. Serving and training call the same
 * function, so a lead cannot be encoded one way in training and another in the API.
 */
const EXTRACTORS = {
  origin: (lead: Lead) => {
    const origin = lead.origin?.trim();
    return origin ? origin : MISSING;
  },
  landing_page_id: (lead: Lead) => lead.landing_page_id,
  weekday: (lead: Lead) => {
    const date = parseLeadDate(lead.first_contact_date);
    return date ? WEEKDAYS[weekdayOf(date)]! : MISSING;
  },
  month_of_year: (lead: Lead) => isoDay(lead.first_contact_date).slice(5, 7),
} satisfies Record<string, (lead: Lead) => string>;

export type FeatureName = keyof typeof EXTRACTORS;
export const FEATURE_NAMES = Object.keys(EXTRACTORS) as FeatureName[];

export function extractCategory(feature: FeatureName, lead: Lead): string {
  return EXTRACTORS[feature](lead);
}

export const PipelineSettingsSchema = z.object({
  features: z.array(z.enum(FEATURE_NAMES as [FeatureName, ...FeatureName[]])).min(1),
  /** A category seen in fewer training leads than this is grouped into "(other)". */
  minCategoryCount: z.number().int().min(1),
});
export type PipelineSettings = z.infer<typeof PipelineSettingsSchema>;

export const PipelineStateSchema = z.object({
  settings: PipelineSettingsSchema,
  steps: z
    .array(
      z.object({
        feature: z.enum(FEATURE_NAMES as [FeatureName, ...FeatureName[]]),
        // Learned categories in a fixed order; the last one is always OTHER.
        categories: z.array(z.string()).min(1),
      }),
    )
    .min(1),
});
export type PipelineState = z.infer<typeof PipelineStateSchema>;

interface FittedStep {
  feature: FeatureName;
  categories: string[];
  indexOf: Map<string, number>;
  offset: number;
}

/**
 * One-hot encoding of categorical steps. A lead becomes the list of its active feature
 * indices, one per step: every input is 0/1, so the model only ever adds weights.
 */
export class Pipeline {
  private steps: FittedStep[] | null = null;

  constructor(readonly settings: PipelineSettings) {
    PipelineSettingsSchema.parse(settings);
  }

  fit(leads: readonly Lead[]): this {
    const steps: PipelineState['steps'] = this.settings.features.map((feature) => {
      const counts = new Map<string, number>();
      for (const lead of leads) {
        const value = extractCategory(feature, lead);
        counts.set(value, (counts.get(value) ?? 0) + 1);
      }
      const kept = [...counts]
        .filter(([value, count]) => count >= this.settings.minCategoryCount && value !== OTHER)
        .map(([value]) => value)
        .sort();
      return { feature, categories: [...kept, OTHER] };
    });
    this.steps = compileSteps(steps);
    return this;
  }

  get isFitted(): boolean {
    return this.steps !== null;
  }

  get stepCount(): number {
    return this.settings.features.length;
  }

  get featureCount(): number {
    return this.fitted().reduce((total, step) => total + step.categories.length, 0);
  }

  /** `origin=social`, `landing_page_id=(other)`, … in index order. */
  get featureNames(): string[] {
    return this.fitted().flatMap((step) => step.categories.map((category) => `${step.feature}=${category}`));
  }

  /** The active feature index of each step, written into `out` at `at`. */
  transformInto(lead: Lead, out: Int32Array, at: number): void {
    const steps = this.fitted();
    for (let s = 0; s < steps.length; s++) {
      const step = steps[s]!;
      const index = step.indexOf.get(extractCategory(step.feature, lead)) ?? step.categories.length - 1;
      out[at + s] = step.offset + index;
    }
  }

  transform(lead: Lead): Int32Array {
    const out = new Int32Array(this.stepCount);
    this.transformInto(lead, out, 0);
    return out;
  }

  /** All leads as one flat array of active indices, `stepCount` per lead. */
  transformAll(leads: readonly Lead[]): Int32Array {
    const out = new Int32Array(leads.length * this.stepCount);
    leads.forEach((lead, i) => this.transformInto(lead, out, i * this.stepCount));
    return out;
  }

  toJSON(): PipelineState {
    return {
      settings: this.settings,
      steps: this.fitted().map(({ feature, categories }) => ({ feature, categories })),
    };
  }

  static fromJSON(json: unknown): Pipeline {
    const state = PipelineStateSchema.parse(json);
    const features = state.steps.map((step) => step.feature);
    if (features.join() !== state.settings.features.join()) {
      throw new Error(`pipeline state lists steps [${features}] but its settings name [${state.settings.features}]`);
    }
    for (const step of state.steps) {
      if (step.categories.at(-1) !== OTHER) throw new Error(`pipeline step ${step.feature} does not end with the ${OTHER} category`);
    }
    const pipeline = new Pipeline(state.settings);
    pipeline.steps = compileSteps(state.steps);
    return pipeline;
  }

  private fitted(): FittedStep[] {
    if (!this.steps) throw new Error('the pipeline has not been fitted: call fit() or load it with Pipeline.fromJSON()');
    return this.steps;
  }
}

function compileSteps(steps: PipelineState['steps']): FittedStep[] {
  let offset = 0;
  return steps.map(({ feature, categories }) => {
    const step = { feature, categories, indexOf: new Map(categories.map((c, i) => [c, i])), offset };
    offset += categories.length;
    return step;
  });
}
