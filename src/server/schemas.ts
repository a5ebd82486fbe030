// HTTP request and response schemas, built on the one Lead schema; they validate and document.
import { z } from 'zod';
import { LeadSchema } from '../features/lead.js';
import { FEATURE_NAMES, type FeatureName } from '../features/pipeline.js';
import { ArtifactSchema } from '../model/artifact.js';

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
    details: z.array(z.object({ path: z.string(), message: z.string(), line: z.number().int().optional().describe('The CSV line, when the body was CSV') })).optional(),
  })
  .meta({ id: 'Error' });

export const HealthResponseSchema = z.object({
  status: z.enum(['ok', 'shutting_down']),
  model: z.object({ version: z.string(), created_at: z.string(), sha256: z.string() }).optional(),
  uptime_s: z.number().optional(),
});

export const LiveResponseSchema = z.object({ status: z.literal('alive') });

/** The artifact without its weights and pipeline vocabularies: its own schema, so /model follows the artifact format. */
export const ModelInfoSchema = ArtifactSchema.pick({
  model_version: true,
  created_at: true,
  sha256: true,
  training_data: true,
  selection: true,
  metrics: true,
  tiers: true,
}).extend({
  features: z.array(z.object({ feature: z.string(), categories: z.number().int() })),
  pipeline_settings: ArtifactSchema.shape.pipeline.shape.settings,
  solver: ArtifactSchema.shape.model.shape.solver,
});
export type ModelInfo = z.infer<typeof ModelInfoSchema>;

export const ReloadResponseSchema = z.object({
  model_version: z.string().describe('The version every process now serves'),
  previous_version: z.string(),
  processes: z.number().int().describe('How many processes (workers) reloaded'),
});

export const ModelListSchema = z.object({
  models: z.array(
    z.object({
      model_version: z.string(),
      created_at: z.string(),
      file: z.string(),
      champion: z.boolean().describe('The version this process serves'),
      default: z.boolean().describe('The version the folder’s latest.json names (served after the next reload)'),
      challenger: z.boolean(),
      metrics: ArtifactSchema.shape.metrics,
    }),
  ),
  refused: z.array(z.object({ file: z.string(), reason: z.string() })).describe('Files that look like artifacts but fail verification'),
});
