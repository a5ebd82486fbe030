// The loaded model's metadata.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Artifact } from '../../model/artifact.js';
import { ErrorSchema, ModelInfoSchema, type ModelInfo } from '../schemas.js';

/** Everything but the weights and the vocabularies, which are large and say nothing to a dashboard. */
export function modelInfo(artifact: Artifact): ModelInfo {
  return {
    model_version: artifact.model_version,
    created_at: artifact.created_at,
    sha256: artifact.sha256,
    training_data: artifact.training_data,
    features: artifact.pipeline.steps.map((step) => ({ feature: step.feature, categories: step.categories.length })),
    pipeline_settings: artifact.pipeline.settings,
    solver: artifact.model.solver,
    selection: artifact.selection,
    metrics: artifact.metrics,
    tiers: artifact.tiers,
  };
}

const model: FastifyPluginAsyncZod = async (app) => {
  const cache = new WeakMap<Artifact, ModelInfo>();
  app.get('/model', {
    onRequest: app.requireRole('read'),
    schema: { summary: 'The loaded model’s metadata, without its weights', tags: ['model'], security: app.security, response: { 200: ModelInfoSchema, 401: ErrorSchema, 403: ErrorSchema } },
    handler: async () => {
      const { artifact } = app.models.champion;
      let info = cache.get(artifact);
      if (!info) cache.set(artifact, (info = modelInfo(artifact)));
      return info;
    },
  });
};

export default model;
