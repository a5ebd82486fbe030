// HTTP request and response schemas, built on the one Lead schema; they validate and document.
import { z } from 'zod';
import { isStorableText, LeadSchema, parseInstant, parseLeadDate, STORABLE_TEXT } from '../features/lead.js';
import { FEATURE_NAMES, type FeatureName } from '../features/pipeline.js';
import { ArtifactSchema } from '../model/artifact.js';
import { isCursor } from '../store/index.js';

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
  status: z.enum(['ok', 'store_unavailable', 'shutting_down']),
  model: z.object({ version: z.string(), created_at: z.string(), sha256: z.string() }).optional(),
  store: z
    .object({ status: z.enum(['up', 'down', 'off']), backend: z.enum(['sqlite', 'postgres']).optional(), latency_ms: z.number().optional(), message: z.string().optional() })
    .optional()
    .describe('The score store: up, down (scores are refused with 503) or off (STORE_URL=none)'),
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

// --- The dashboards' API: stored scores, outcomes and live quality -------------------------------

const TIER = z.enum(['A', 'B', 'C', 'D']);
/** A text filter, compared with stored text: what could never have been stored is refused rather than sent to the store. */
const filterText = (what: string) => z.string().refine(isStorableText, `${what} ${STORABLE_TEXT}`);

/** `YYYY-MM-DD` (midnight UTC) or an ISO-8601 date-time (UTC without an offset), as a Date. */
const instant = (what: string) =>
  z
    .string()
    .transform((text, ctx) => {
      const date = parseInstant(text);
      if (date) return date;
      ctx.addIssue({ code: 'custom', message: `${what} must be a real calendar date and time in years 0001–9999, YYYY-MM-DD or an ISO-8601 date-time` });
      return z.NEVER;
    });

export const WindowQuerySchema = z.object({
  since: instant('since').optional().describe('Scored at or after (YYYY-MM-DD or ISO-8601)'),
  until: instant('until').optional().describe('Scored before'),
});

export const PredictionQuerySchema = WindowQuerySchema.extend({
  tier: z
    .string()
    .transform((text) => text.split(',').map((tier) => tier.trim().toUpperCase()))
    .pipe(z.array(TIER, 'tier must list tiers A, B, C or D, comma-separated'))
    .optional()
    .describe('One or more tiers, comma-separated: A,B'),
  origin: filterText('origin').optional().describe('A channel; "(missing)" for leads without one'),
  landing_page_id: filterText('landing_page_id').optional(),
  model_version: filterText('model_version').optional(),
  outcome: z.enum(['converted', 'lost', 'unknown'], 'outcome must be converted, lost or unknown').optional(),
  limit: z
    .string()
    .regex(/^\d+$/, 'limit must be a whole number')
    .transform(Number)
    .pipe(z.number().min(1, 'limit must be at least 1').max(1000, 'limit must be at most 1000'))
    .default(100),
  cursor: z
    .string()
    .refine(isCursor, 'cursor is not a cursor this API returned; pass next_cursor from the previous page as it was')
    .optional()
    .describe('next_cursor of the previous page; with Accept: text/csv the export starts after it'),
});

const OUTCOME_STATUS = z.enum(['converted', 'lost', 'unknown']).describe('converted; lost (reported, or no outcome past OUTCOME_HORIZON_DAYS); unknown');

export const StoredPredictionSchema = z.object({
  mql_id: z.string(),
  first_contact_date: z.string(),
  landing_page_id: z.string(),
  origin: z.string().nullable(),
  probability: z.number(),
  tier: TIER,
  model_version: z.string(),
  scored_at: z.string(),
  outcome: OUTCOME_STATUS,
});

export const PredictionPageSchema = z.object({
  predictions: z.array(StoredPredictionSchema).describe('Current scores, newest first'),
  next_cursor: z.string().nullable().describe('Pass as cursor for the next page; null on the last'),
});

/** One recorded score of a lead: the stored prediction's fields as they were then, with the request and the challenger's score. */
const ScoreEntrySchema = StoredPredictionSchema.omit({ mql_id: true, outcome: true }).extend({
  request_id: z.string(),
  challenger: z.object({ model_version: z.string(), probability: z.number(), tier: TIER }).nullable(),
});

export const LeadHistorySchema = z.object({
  mql_id: z.string(),
  current: ScoreEntrySchema,
  history: z.array(ScoreEntrySchema).describe('Earlier scores, newest first'),
  outcome: z.object({ status: OUTCOME_STATUS, converted: z.boolean().nullable(), won_date: z.string().nullable() }),
});

export const SummaryQuerySchema = WindowQuerySchema.extend({
  interval: z.enum(['day', 'week', 'month'], 'interval must be day, week or month').default('day'),
});

export const SummarySchema = z.object({
  interval: z.enum(['day', 'week', 'month']),
  buckets: z.array(
    z.object({
      start: z.string().describe('First day of the bucket (UTC); weeks start on Monday'),
      leads: z.number().int(),
      tiers: z.object({ A: z.number().int(), B: z.number().int(), C: z.number().int(), D: z.number().int() }),
      mean_probability: z.number(),
      converted: z.number().int(),
      lost: z.number().int(),
      conversion_rate: z.number(),
    }),
  ),
});

const wonDate = z
  .string('won_date must be a string or null')
  .trim()
  .nullable()
  .optional()
  .transform((text) => (text ? text : null))
  .refine((text) => text === null || parseLeadDate(text) !== null, 'won_date must be a real calendar date, YYYY-MM-DD or an ISO-8601 date-time (2018-02-26 19:58:54)');

export const OutcomeSchema = z.object({
  // Not trimmed: a lead's id is matched exactly as it was scored, and scoring keeps its spaces.
  mql_id: z
    .string({ error: (issue) => (issue.input === undefined ? 'mql_id is required' : 'mql_id must be a string') })
    .min(1, 'mql_id must not be empty')
    .max(128, 'mql_id must be at most 128 characters')
    .refine(isStorableText, `mql_id ${STORABLE_TEXT}`),
  won_date: wonDate,
  converted: z
    .union([z.boolean(), z.enum(['true', 'false', '1', '0', ''])], 'converted must be true or false')
    .optional()
    .transform((value) => value === undefined || value === '' || value === true || value === 'true' || value === '1')
    .describe('Defaults to true; false records a lost lead'),
});

export function outcomesRequestSchema(maxOutcomes: number) {
  return z
    .object({ outcomes: z.array(OutcomeSchema).min(1, 'must hold at least one outcome').max(maxOutcomes, `must hold at most ${maxOutcomes} outcomes`) })
    .meta({ description: `1 to ${maxOutcomes} outcomes as JSON, or text/csv with at least the columns mql_id,won_date (Olist's closed-deals file as it is)` });
}

export const OutcomeReceiptSchema = z.object({
  received: z.number().int(),
  matched: z.number().int().describe('Outcomes naming a lead that has been scored'),
  unmatched: z.number().int().describe('Kept, and joined when their lead is scored'),
  updated: z.number().int().describe('Leads whose stored outcome was new or changed; 0 when the same outcomes are posted again'),
});

const CalibrationBinSchema = z.object({ lower: z.number(), upper: z.number(), count: z.number(), meanPredicted: z.number().nullable(), observedRate: z.number().nullable() });

export const PerformanceQuerySchema = WindowQuerySchema.extend({ model_version: filterText('model_version').optional() });

/** A lead named in a URL path, as it was scored. */
export const LeadIdParamsSchema = z.object({ mql_id: LeadSchema.shape.mql_id });

export const PerformanceSchema = z.object({
  model_version: z.string().nullable().describe('The version the figures are for; null: every version'),
  leads: z.number().int().describe('Stored leads whose outcome is known'),
  converted: z.number().int(),
  roc_auc: z.number().nullable(),
  pr_auc: z.number().nullable(),
  brier: z.number().nullable(),
  log_loss: z.number().nullable(),
  calibration: z.array(CalibrationBinSchema),
  tiers: z.record(TIER, z.object({ leads: z.number().int(), converted: z.number().int(), conversion_rate: z.number().nullable() })),
  holdout: z.object({ rocAuc: z.number(), prAuc: z.number(), brier: z.number(), logLoss: z.number() }).describe('The served model’s figures on its training holdout, for comparison'),
  message: z.string().optional(),
});

const PairedMetricSchema = z.object({
  champion: z.number(),
  challenger: z.number(),
  difference: z.number().describe('challenger − champion'),
  interval: z.tuple([z.number(), z.number()]).describe('95 % paired-bootstrap interval of the difference'),
});

export const CompareSchema = z.object({
  champion_versions: z.array(z.string()),
  challenger_versions: z.array(z.string()),
  leads: z.number().int(),
  converted: z.number().int(),
  roc_auc: PairedMetricSchema.nullable(),
  brier: PairedMetricSchema.nullable(),
  log_loss: PairedMetricSchema.nullable(),
  tier_changes: z.number().int().describe('Leads the challenger would put in another tier'),
  resamples: z.number().int(),
  message: z.string().optional(),
});

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export const DriftQuerySchema = z.object({
  window: z
    .string()
    .regex(/^\d+[mhd]$/, 'window must be a duration such as 90m, 24h or 7d')
    .transform((text) => Number(text.slice(0, -1)) * UNIT_MS[text.at(-1) as keyof typeof UNIT_MS])
    .pipe(z.number().min(60_000, 'window must be at least 1m').max(90 * 86_400_000, 'window must be at most 90d'))
    .default(24 * 3_600_000)
    .describe('How far back to look (default 24h); a young service with fewer leads falls back to its most recent ones'),
});

const BinShareSchema = z.object({ bin: z.string(), expected: z.number(), observed: z.number(), count: z.number() });
const DRIFT_STATUS = z.enum(['stable', 'moderate', 'significant', 'insufficient_data']);

export const DriftSchema = z.object({
  model_version: z.string(),
  window: z.object({ since: z.string().nullable(), until: z.string(), last: z.number().int().nullable().describe('Set when the report fell back to the most recent leads'), source: z.enum(['store', 'memory']) }),
  count: z.number().int(),
  min_count: z.number().int().describe('Below this many leads a feature is insufficient_data, never an alarm'),
  thresholds: z.object({ moderate: z.number(), significant: z.number() }),
  top_k: z.number().int().describe('High-cardinality features keep their K busiest training categories as bins, plus (rest) and (other)'),
  status: DRIFT_STATUS.describe('The worst status over the features'),
  features: z.array(
    z.object({
      feature: z.string(),
      count: z.number().int(),
      psi: z.number().nullable(),
      js_distance: z.number().nullable(),
      status: DRIFT_STATUS,
      bins: z.array(BinShareSchema),
      top_movers: z.array(BinShareSchema.extend({ change: z.number() })).describe('The bins whose share moved most'),
    }),
  ),
});
