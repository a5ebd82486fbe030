// The OpenAPI document and Swagger UI, generated from the zod schemas the routes validate with.
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

async function docs(app: FastifyInstance): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'leadscore',
        version: '1.0.0',
        description: 'Scores marketing-qualified leads: the probability that each becomes a closed deal, a tier A–D and the reasons.',
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'Needed when the server runs with API_KEYS' } } },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  // staticCSP: Swagger UI's page gets a policy naming its own scripts and styles, which the
  // service-wide helmet policy would otherwise block.
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true });
}

export default fp(docs, { name: 'docs' });
