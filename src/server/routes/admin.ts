// Changing the served model without a restart: reload what MODEL_PATH names, or promote another version.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { promoteArtifact } from '../../model/catalog.js';
import { HttpError } from '../errors.js';
import type { ModelChange, ReloadOutcome } from '../models.js';
import { ErrorSchema, ReloadResponseSchema } from '../schemas.js';

export interface AdminOptions {
  /** MODEL_PATH: a models folder (with latest.json) or one artifact file; absent when the model was given in memory. */
  modelPath?: string;
  /** Applies a change in every process of the service (every worker with WORKERS > 1) and reports each. */
  changeAll: (change: ModelChange) => Promise<ReloadOutcome[]>;
}

/** The outcome of a reload as the client sees it: 200 when every process serves the new model, else 422 naming the failures. */
export function reloadAnswer(outcomes: ReloadOutcome[]) {
  const failed = outcomes.filter((outcome) => !outcome.ok);
  if (failed.length) {
    const serving = [...new Set(outcomes.map((o) => o.model_version))].join(', ');
    throw new HttpError(
      422,
      `the model was not reloaded in ${failed.length} of ${outcomes.length} process(es): ${failed[0]!.error}; still serving ${serving}`,
      failed.map((outcome) => ({ path: `process ${outcome.pid}`, message: outcome.error ?? 'failed' })),
    );
  }
  return { model_version: outcomes[0]!.model_version, previous_version: outcomes[0]!.previous_version, processes: outcomes.length };
}

const admin: FastifyPluginAsyncZod<AdminOptions> = async (app, options) => {
  const adminResponses = { 200: ReloadResponseSchema, 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 422: ErrorSchema };

  app.post('/admin/model/reload', {
    onRequest: app.requireRole('admin'),
    schema: {
      summary: 'Load the artifact MODEL_PATH names again (following latest.json), verify it, and swap it in without dropping a request',
      tags: ['admin'],
      security: app.security,
      response: adminResponses,
    },
    handler: async () => reloadAnswer(await options.changeAll({ kind: 'reload' })),
  });

  app.post('/admin/model/promote', {
    onRequest: app.requireRole('admin'),
    schema: {
      summary: 'Make a version in the models folder the default (rewriting latest.json atomically), then reload',
      tags: ['admin'],
      security: app.security,
      body: z.object({ version: z.string().min(1) }),
      response: adminResponses,
    },
    handler: async (request) => {
      if (!options.modelPath) throw new HttpError(400, 'this service was started without MODEL_PATH; there is no models folder to promote in');
      try {
        await promoteArtifact(options.modelPath, request.body.version);
      } catch (error) {
        throw new HttpError(/no verified artifact/.test((error as Error).message) ? 404 : 400, (error as Error).message);
      }
      return reloadAnswer(await options.changeAll({ kind: 'reload' }));
    },
  });

  app.post('/admin/model/challenger', {
    onRequest: app.requireRole('admin'),
    schema: {
      summary: 'Score every lead also with this version of the models folder, in the shadow (stored, never returned); null stops',
      tags: ['admin'],
      security: app.security,
      body: z.object({ version: z.string().min(1).nullable() }),
      response: adminResponses,
    },
    handler: async (request) => {
      // Accepted, it would be listed as the challenger while scoring skips it (a lead is never scored twice by one version).
      const champion = app.models.champion.artifact.model_version;
      if (request.body.version === champion) throw new HttpError(422, `version ${champion} is the champion; a challenger must be another version of the models folder`);
      return reloadAnswer(await options.changeAll({ kind: 'challenger', version: request.body.version }));
    },
  });
};

export default admin;
