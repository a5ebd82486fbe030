// The Open Inference Protocol (KServe V2) REST payloads, written from its specification
// (inference_rest.md and open_inference_rest.yaml): they validate requests and document the /v2 routes.
import { z } from 'zod';

/** Parameters as the protocol defines them: names to strings, numbers or booleans. */
const ParametersSchema = z
  .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
  .describe('Key/value pairs; values are strings, numbers or booleans')
  .meta({ id: 'V2Parameters' });

/**
 * Parameters a client sends are read leniently: only `content_type` and `binary_data` mean
 * anything here, and clients add their own keys (MLServer's `headers`, say) whose values we never read.
 */
const RequestParametersSchema = z.record(z.string(), z.unknown()).describe('Key/value pairs; `content_type` is read, other keys are ignored');

export const V2ErrorSchema = z.object({ error: z.string().describe('What went wrong, naming the tensor and element') }).meta({ id: 'V2Error' });

export const ServerLiveSchema = z.object({ live: z.boolean() }).meta({ id: 'V2ServerLive' });
export const ServerReadySchema = z.object({ ready: z.boolean() }).meta({ id: 'V2ServerReady' });
export const ModelReadySchema = z.object({ name: z.string(), ready: z.boolean() }).meta({ id: 'V2ModelReady' });

export const ServerMetadataSchema = z
  .object({
    name: z.string(),
    version: z.string(),
    extensions: z.array(z.string()).describe('Protocol extensions the server supports'),
  })
  .meta({ id: 'V2ServerMetadata' });

export const MetadataTensorSchema = z
  .object({
    name: z.string(),
    datatype: z.string().describe('A tensor data type: BOOL, UINT8 … UINT64, INT8 … INT64, FP16, FP32, FP64 or BYTES'),
    shape: z.array(z.number().int()).describe('-1 marks a variable-size dimension'),
    parameters: ParametersSchema.optional(),
  })
  .meta({ id: 'V2MetadataTensor' });

export const ModelMetadataSchema = z
  .object({
    name: z.string(),
    versions: z.array(z.string()).optional().describe('The versions that may be requested under /versions/{version}'),
    platform: z.string(),
    inputs: z.array(MetadataTensorSchema),
    outputs: z.array(MetadataTensorSchema),
  })
  .meta({ id: 'V2ModelMetadata' });

export const RequestInputSchema = z
  .object({
    name: z.string({ error: 'must be a string' }).min(1, 'must not be empty'),
    shape: z.array(z.number({ error: 'must be a number' }).int('must be a whole number').min(0, 'must be 0 or more'), { error: 'must be an array of whole numbers' }),
    datatype: z.string({ error: 'must be a string' }),
    parameters: RequestParametersSchema.optional(),
    // Elements are checked against the model's own rules after decoding, so each error can name its element.
    data: z.array(z.unknown(), { error: 'must be an array' }).describe('The elements in row-major order, flat or nested'),
  })
  .meta({ id: 'V2RequestInput' });

export const RequestOutputSchema = z
  .object({ name: z.string({ error: 'must be a string' }), parameters: RequestParametersSchema.optional() })
  .meta({ id: 'V2RequestOutput' });

export const InferenceRequestSchema = z
  .object({
    id: z.string({ error: 'must be a string' }).optional().describe('Echoed in the response'),
    parameters: RequestParametersSchema.optional(),
    inputs: z.array(RequestInputSchema, { error: 'must be an array of input tensors' }),
    outputs: z.array(RequestOutputSchema, { error: 'must be an array of requested outputs' }).optional().describe('The outputs to return; all but the optional ones when absent'),
  })
  .meta({
    id: 'V2InferenceRequest',
    description: 'One BYTES input per lead field (MLServer’s "pd" convention), each of shape [N] or [N, 1]',
    example: {
      id: 'crm-batch-42',
      parameters: { content_type: 'pd' },
      inputs: [
        { name: 'mql_id', datatype: 'BYTES', shape: [2, 1], parameters: { content_type: 'str' }, data: ['lead-1', 'lead-2'] },
        { name: 'first_contact_date', datatype: 'BYTES', shape: [2, 1], parameters: { content_type: 'str' }, data: ['2018-05-02', '2018-05-02T14:05:00Z'] },
        { name: 'landing_page_id', datatype: 'BYTES', shape: [2, 1], parameters: { content_type: 'str' }, data: ['22c29808c4f815213303f8933030604c', 'a-new-page'] },
        { name: 'origin', datatype: 'BYTES', shape: [2, 1], parameters: { content_type: 'str' }, data: ['organic_search', ''] },
      ],
    },
  });
export type InferenceRequest = z.infer<typeof InferenceRequestSchema>;
export type RequestInput = z.infer<typeof RequestInputSchema>;

export const ResponseOutputSchema = z
  .object({
    name: z.string(),
    shape: z.array(z.number().int().min(0)),
    datatype: z.string(),
    parameters: ParametersSchema.optional(),
    data: z.array(z.union([z.number(), z.string(), z.boolean()])),
  })
  .meta({ id: 'V2ResponseOutput' });

export const InferenceResponseSchema = z
  .object({
    model_name: z.string(),
    model_version: z.string().optional(),
    id: z.string().describe('The request’s id, or the x-request-id this server gave the request when it had none'),
    parameters: ParametersSchema.optional(),
    outputs: z.array(ResponseOutputSchema),
  })
  .meta({ id: 'V2InferenceResponse' });
export type InferenceResponse = z.infer<typeof InferenceResponseSchema>;

export const ModelParamsSchema = z.object({ name: z.string() });
export const VersionParamsSchema = z.object({ name: z.string(), version: z.string() });
