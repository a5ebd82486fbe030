// The one path every scoring route takes: the champion scores the leads, and the scores are counted.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Lead } from '../../features/lead.js';
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
  }
}

async function scoring(app: FastifyInstance): Promise<void> {
  app.decorate('scoreLeads', async (request: FastifyRequest, leads: readonly Lead[]) => {
    const model = app.models.champion;
    const { scorer } = model;
    request.modelVersion = scorer.version;
    const predictions = leads.map((lead) => ({ mql_id: lead.mql_id, ...scorer.score(lead) }));
    app.metrics?.recordScores(scorer.version, predictions);
    return { model, predictions };
  });
}

export default fp(scoring, { name: 'scoring', dependencies: ['metrics'] });
