// The loaded model's metadata.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import path from 'node:path';
import type { Artifact } from '../../model/artifact.js';
import { readCatalog } from '../../model/catalog.js';
import { ErrorSchema, ModelInfoSchema, ModelListSchema, type ModelInfo } from '../schemas.js';

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

const model: FastifyPluginAsyncZod<{ modelPath?: string }> = async (app, { modelPath }) => {
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

  app.get('/models', {
    onRequest: app.requireRole('read'),
    schema: { summary: 'Every artifact in the models folder, with its metrics and which one is served', tags: ['model'], security: app.security, response: { 200: ModelListSchema, 401: ErrorSchema, 403: ErrorSchema } },
    handler: async () => {
      const served = app.models.champion.artifact;
      const catalog = modelPath ? await readCatalog(modelPath) : { artifacts: [{ file: '(in memory)', artifact: served }], refused: [], defaultFile: null };
      return {
        models: catalog.artifacts.map(({ file, artifact }) => ({
          model_version: artifact.model_version,
          created_at: artifact.created_at,
          file: path.basename(file),
          champion: artifact.sha256 === served.sha256,
          default: catalog.defaultFile === file,
          challenger: artifact.sha256 === app.models.challenger?.artifact.sha256,
          metrics: artifact.metrics,
        })),
        refused: catalog.refused.map(({ file, reason }) => ({ file: path.basename(file), reason })),
      };
    },
  });
};

export default model;
