// HTTP request and response schemas, built on the one Lead schema; they validate and document.
import { z } from 'zod';
import { LeadSchema } from '../features/lead.js';
import { FEATURE_NAMES, type FeatureName } from '../features/pipeline.js';

export { LeadSchema };

const ContributionSchema = z.object({
  feature: z.enum(FEATURE_NAMES as [FeatureName, ...FeatureName[]]),
  value: z.string().describe('The category the model used: the lead’s own value, or "(other)" for one it never learned'),
  contribution: z.number().describe('Log-odds this value adds to the model’s intercept'),
});

const ScoreFields = {
  mql_id: z.string(),
  probability: z.number().min(0).max(1).describe('Probability that the lead becomes a closed deal'),
  tier: z.enum(['A', 'B', 'C', 'D']).describe('Quartile of the training leads’ scores this probability falls in; A is the best quarter'),
  explanation: z.array(ContributionSchema).describe('What moved the score, largest magnitude first'),
};

export const PredictResponseSchema = z.object({ ...ScoreFields, model_version: z.string() }).meta({ id: 'Prediction' });

export function batchRequestSchema(maxBatch: number) {
  return z
    .object({ leads: z.array(LeadSchema).min(1, 'must hold at least one lead').max(maxBatch, `must hold at most ${maxBatch} leads`) })
    .meta({ description: `1 to ${maxBatch} leads as JSON, or text/csv with the header mql_id,first_contact_date,landing_page_id,origin` });
}

export const BatchResponseSchema = z.object({
  model_version: z.string(),
  predictions: z.array(z.object(ScoreFields)).describe('One per lead, in input order'),
});

export const ErrorSchema = z
  .object({
    statusCode: z.number().int(),
    error: z.string(),
    message: z.string(),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Error' });

export const HealthResponseSchema = z.object({
  status: z.enum(['ok', 'shutting_down']),
  model: z.object({ version: z.string(), created_at: z.string(), sha256: z.string() }).optional(),
  uptime_s: z.number().optional(),
});

export const LiveResponseSchema = z.object({ status: z.literal('alive') });

export const ModelInfoSchema = z.object({
  model_version: z.string(),
  created_at: z.string(),
  sha256: z.string(),
  training_data: z.record(z.string(), z.unknown()),
  features: z.array(z.object({ feature: z.string(), categories: z.number().int() })),
  pipeline_settings: z.record(z.string(), z.unknown()),
  solver: z.record(z.string(), z.unknown()),
  selection: z.record(z.string(), z.unknown()),
  metrics: z.record(z.string(), z.unknown()),
  tiers: z.object({ A: z.number(), B: z.number(), C: z.number() }).describe('Lowest probability of tiers A, B and C; below C is D'),
});
