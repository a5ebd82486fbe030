// The one path every scoring route takes: the champion scores the leads (and a challenger in its
// shadow), the scores are counted, and recorded before the response is sent.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Lead } from '../../features/lead.js';
import type { ObservedCounts } from '../../model/drift.js';
import { DriftCounter } from '../drift.js';
import type { ServingModel } from '../models.js';
import type { ScoredLead } from '../serialize.js';

export interface ScoredRequest {
  /** The model that scored every lead of the request: one per request, even across a reload. */
  model: ServingModel;
  predictions: ScoredLead[];
}

declare module 'fastify' {
  interface FastifyInstance {
    scoreLeads(request: FastifyRequest, leads: readonly Lead[]): Promise<ScoredRequest>;
    /** Drift-bin counts of the leads scored since a time: this process's, or with WORKERS > 1 every worker's. */
    driftCounts(sinceMs: number): Promise<ObservedCounts>;
  }
}

export interface ScoringOptions {
  /** With WORKERS > 1, gathers every worker's drift counts; by default this process's. */
  collectDriftCounts?: (sinceMs: number) => Promise<ObservedCounts>;
  /** The counter this process keeps; the process entry shares it with the primary's requests. */
  driftCounter?: DriftCounter;
}

async function scoring(app: FastifyInstance, options: ScoringOptions): Promise<void> {
  // Without a store, drift is counted here; with one, it is counted in the store from what it records.
  const counter = app.store ? null : (options.driftCounter ?? new DriftCounter());
  app.decorate('driftCounts', options.collectDriftCounts ?? (async (sinceMs: number) => counter?.counts(sinceMs) ?? {}));

  app.decorate('scoreLeads', async (request: FastifyRequest, leads: readonly Lead[]) => {
    // Read once: the whole request is scored by the models live now, whatever a reload does meanwhile.
    const model = app.models.champion;
    const shadow = app.models.challenger;
    const challenger = shadow && shadow.scorer.version !== model.scorer.version ? shadow : null;
    const { scorer } = model;
    request.modelVersion = scorer.version;
    const predictions = leads.map((lead) => ({ mql_id: lead.mql_id, ...scorer.score(lead) }));
    app.metrics?.recordScores(scorer.version, predictions);
    counter?.count(model.artifact, leads, predictions.map((p) => p.probability));
    if (app.store) {
      // The challenger's scores are a lookup and a sum per lead (no reasons); they are recorded in
      // the same transaction as the champion's, so a stored lead always has both or neither.
      await app.store.recordScores({
        request_id: request.id,
        scored_at: new Date(),
        model_version: scorer.version,
        challenger_version: challenger?.scorer.version ?? null,
        leads: leads.map((lead, i) => ({
          mql_id: lead.mql_id,
          first_contact_date: lead.first_contact_date,
          landing_page_id: lead.landing_page_id,
          origin: lead.origin,
          probability: predictions[i]!.probability,
          tier: predictions[i]!.tier,
          challenger: challenger ? challenger.scorer.rate(lead) : null,
        })),
      });
    }
    return { model, predictions };
  });
}

export default fp(scoring, { name: 'scoring', dependencies: ['metrics', 'store'] });
