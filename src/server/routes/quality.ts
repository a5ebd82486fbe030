// Live model quality on stored leads whose outcome is known, and champion against challenger.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { compareModelsInTurns } from '../../model/compare.js';
import { brierScore, calibrationTable, countPositives, logLoss, prAuc, rocAuc } from '../../model/metrics.js';
import { TIERS } from '../../model/tiers.js';
import { measureDrift } from '../drift.js';
import { CompareSchema, DriftQuerySchema, DriftSchema, ErrorSchema, PerformanceQuerySchema, PerformanceSchema, WindowQuerySchema } from '../schemas.js';

const finiteOrNull = (value: number) => (Number.isFinite(value) ? value : null);
const responses = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 503: ErrorSchema };

const quality: FastifyPluginAsyncZod = async (app) => {
  const guard = [...app.requireRole('read'), ...app.requireStore];

  app.get('/model/performance', {
    onRequest: guard,
    schema: {
      summary: 'Live quality on stored leads with a known outcome, computed by the same metric functions as training, beside the holdout figures',
      tags: ['model'],
      security: app.security,
      querystring: PerformanceQuerySchema,
      response: { 200: PerformanceSchema, ...responses },
    },
    handler: async (request) => {
      const { since, until, model_version } = request.query;
      const { probabilities, labels, tiers } = await app.store!.labelledScores({ since, until, model_version });
      const { holdout } = app.models.champion.artifact.metrics;
      const perTier = Object.fromEntries(
        TIERS.map((tier) => {
          let leads = 0;
          let converted = 0;
          tiers.forEach((t, i) => {
            if (t === tier) {
              leads++;
              converted += labels[i]!;
            }
          });
          return [tier, { leads, converted, conversion_rate: leads ? converted / leads : null }];
        }),
      ) as Record<(typeof TIERS)[number], { leads: number; converted: number; conversion_rate: number | null }>;
      const base = { model_version: model_version ?? null, leads: labels.length, converted: countPositives(labels), tiers: perTier, holdout: { rocAuc: holdout.rocAuc, prAuc: holdout.prAuc, brier: holdout.brier, logLoss: holdout.logLoss } };
      if (!labels.length) return { ...base, roc_auc: null, pr_auc: null, brier: null, log_loss: null, calibration: [], message: 'no stored lead has a known outcome yet: POST /outcomes, or wait for OUTCOME_HORIZON_DAYS' };
      return {
        ...base,
        roc_auc: finiteOrNull(rocAuc(labels, probabilities)),
        pr_auc: finiteOrNull(prAuc(labels, probabilities)),
        brier: brierScore(labels, probabilities),
        log_loss: logLoss(labels, probabilities),
        calibration: calibrationTable(labels, probabilities),
      };
    },
  });

  app.get('/model/compare', {
    onRequest: guard,
    schema: {
      summary: 'Champion and challenger on the same stored leads with known outcomes: AUC, Brier and log loss with paired-bootstrap 95 % intervals, and tier changes',
      tags: ['model'],
      security: app.security,
      querystring: WindowQuerySchema.extend({ resamples: z.coerce.number().int().min(100).max(10_000).default(1000) }),
      response: { 200: CompareSchema, ...responses },
    },
    handler: async (request) => {
      const { since, until, resamples } = request.query;
      const pairs = await app.store!.scorePairs({ since, until });
      const versions = { champion_versions: [...new Set(pairs.model_versions)], challenger_versions: [...new Set(pairs.challenger_versions)] };
      if (!pairs.labels.length) {
        return { ...versions, leads: 0, converted: 0, roc_auc: null, brier: null, log_loss: null, tier_changes: 0, resamples: 0, message: 'no stored lead scored by a challenger has a known outcome yet' };
      }
      return { ...versions, ...(await compareModelsInTurns(pairs.labels, pairs.champion, pairs.challenger, { champion: pairs.champion_tiers, challenger: pairs.challenger_tiers }, { resamples })) };
    },
  });

  app.get('/model/drift', {
    onRequest: app.requireRole('read'),
    schema: {
      summary: 'Drift of recently scored leads against the training distribution: PSI, Jensen–Shannon distance and a status per feature',
      tags: ['model'],
      security: app.security,
      querystring: DriftQuerySchema,
      response: { 200: DriftSchema, ...responses },
    },
    handler: async (request) => measureDrift(app.models.champion.artifact, { store: app.store, memory: app.driftCounts }, request.query.window),
  });
};

export default quality;
