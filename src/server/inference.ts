// The model as the Open Inference Protocol (KServe V2) sees it: its name, its input and output
// tensors, and the decoding of a request's columns into the leads /batch-predict takes.
import { LEAD_COLUMNS, LeadSchema, type Lead } from '../features/lead.js';
import { ARTIFACT_FORMAT, ARTIFACT_FORMAT_VERSION } from '../model/artifact.js';
import { formatPath, HttpError, type ErrorDetail } from './errors.js';
import { batchRequestSchema } from './schemas.js';
import type { InferenceRequest, RequestInput } from './schemas-v2.js';

export const V2_MODEL_NAME = 'lead-conversion';
/** "<project>_<format>", as the protocol names platforms: the artifact format the model is loaded from. */
export const V2_PLATFORM = `${ARTIFACT_FORMAT.replace('.', '_')}-v${ARTIFACT_FORMAT_VERSION}`;

type Column = (typeof LEAD_COLUMNS)[number];
const isColumn = (name: string): name is Column => (LEAD_COLUMNS as readonly string[]).includes(name);
/** A column may be left out where the lead schema lets its field be absent: no origin column means every origin is missing. */
const OPTIONAL_INPUTS = new Set<string>(LEAD_COLUMNS.filter((column) => LeadSchema.shape[column].safeParse(undefined).success));
const REQUIRED_INPUTS = LEAD_COLUMNS.filter((column) => !OPTIONAL_INPUTS.has(column));
const TAKES = `this model takes ${LEAD_COLUMNS.join(', ')}${OPTIONAL_INPUTS.size ? ` (${[...OPTIONAL_INPUTS].join(', ')} may be left out)` : ''}`;

/** Each lead field as a string column, the way MLServer's pandas codec sends a DataFrame's string columns. */
export const INPUT_TENSORS = LEAD_COLUMNS.map((name) => ({
  name,
  datatype: 'BYTES',
  shape: [-1],
  parameters: { content_type: 'str', ...(OPTIONAL_INPUTS.has(name) ? { optional: true } : {}) },
}));

export const OUTPUT_NAMES = ['probability', 'tier', 'explanation'] as const;
export type OutputName = (typeof OUTPUT_NAMES)[number];
/** Returned when a request names no outputs; the explanation is returned only when asked for by name. */
export const DEFAULT_OUTPUTS: readonly OutputName[] = ['probability', 'tier'];

export const OUTPUT_TENSORS: Record<OutputName, { name: OutputName; datatype: string; shape: number[]; parameters?: Record<string, string | boolean> }> = {
  probability: { name: 'probability', datatype: 'FP64', shape: [-1] },
  tier: { name: 'tier', datatype: 'BYTES', shape: [-1], parameters: { content_type: 'str' } },
  // One JSON text per lead: the reasons /predict gives, largest first.
  explanation: { name: 'explanation', datatype: 'BYTES', shape: [-1], parameters: { content_type: 'str', optional: true } },
};

const invalid = (problems: ErrorDetail[]) => new HttpError(400, `invalid request: ${problems.map((p) => p.path).join(', ')}`, problems);
const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** A true parameter asking for the binary tensor extension, which this server does not offer. */
const wantsBinary = (parameters: Record<string, unknown> | undefined, key: string) => parameters !== undefined && parameters[key] !== undefined && parameters[key] !== false;

/**
 * One input tensor as a column of N elements, or null after recording why not. Shape [N] and
 * [N, 1] are both columns (MLServer sends [N, 1]); [N, 1] data may be flat or nested by row.
 * "pd_json" elements are JSON texts, which MLServer sends for a column holding a None.
 */
function decodeColumn(input: RequestInput, at: string, problems: ErrorDetail[]): unknown[] | null {
  const before = problems.length;
  if (input.datatype !== 'BYTES') problems.push({ path: `${at}.datatype`, message: `is ${JSON.stringify(input.datatype)}; this model's inputs are BYTES (strings)` });
  const contentType = input.parameters?.content_type;
  if (contentType !== undefined && contentType !== 'str' && contentType !== 'pd_json') {
    problems.push({ path: `${at}.parameters.content_type`, message: `is ${JSON.stringify(contentType)}; send "str" (or "pd_json" for JSON-encoded elements)` });
  }
  if (wantsBinary(input.parameters, 'binary_data_size')) problems.push({ path: `${at}.parameters.binary_data_size`, message: 'binary tensor data is not supported; send the elements in "data"' });
  const { shape } = input;
  if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) problems.push({ path: `${at}.shape`, message: `is ${shapeText(shape)}; a column is [N] or [N, 1]` });
  if (problems.length > before) return null;

  const rows = shape[0]!;
  let data = input.data;
  if (shape.length === 2 && data.length === rows && data.every(Array.isArray)) {
    const row = data.findIndex((element) => (element as unknown[]).length !== 1);
    if (row >= 0) {
      problems.push({ path: `${at}.data[${row}]`, message: `holds ${(data[row] as unknown[]).length} elements; shape ${shapeText(shape)} has one per row` });
      return null;
    }
    data = data.map((element) => (element as unknown[])[0]);
  }
  if (data.length !== rows) {
    problems.push({ path: at, message: `shape ${shapeText(shape)} holds ${rows} element(s) but data has ${data.length}` });
    return null;
  }
  if (contentType !== 'pd_json') return data;
  return data.map((element, row) => {
    if (typeof element === 'string') {
      try {
        return JSON.parse(element) as unknown;
      } catch {
        // reported below
      }
    }
    problems.push({ path: `${at}.data[${row}]`, message: 'must be JSON text, as content_type "pd_json" says' });
    return undefined;
  });
}

/**
 * Reads a request's input tensors as a table of leads and validates them with the same lead
 * schema and MAX_BATCH as /batch-predict. Every problem is reported at once, named by tensor and
 * element (`inputs[origin].data[17]`): 400, or 413 for more rows than MAX_BATCH.
 */
export function tableDecoder(maxBatch: number) {
  const schema = batchRequestSchema(maxBatch);
  return (request: InferenceRequest): Lead[] => {
    const problems: ErrorDetail[] = [];
    const requestType = request.parameters?.content_type;
    if (requestType !== undefined && requestType !== 'pd') {
      problems.push({ path: 'parameters.content_type', message: `is ${JSON.stringify(requestType)}; this model reads a table: send "pd" or leave it out` });
    }
    const columns = new Map<Column, unknown[]>();
    for (const input of request.inputs) {
      const at = `inputs[${input.name}]`;
      if (!isColumn(input.name)) problems.push({ path: at, message: `is not an input of this model; ${TAKES}` });
      else if (columns.has(input.name)) problems.push({ path: at, message: 'is given more than once' });
      else {
        const column = decodeColumn(input, at, problems);
        if (column) columns.set(input.name, column);
      }
    }
    const missing = REQUIRED_INPUTS.filter((name) => !request.inputs.some((input) => input.name === name));
    if (missing.length) problems.push({ path: 'inputs', message: `lacks ${missing.join(', ')}; ${TAKES}` });
    const lengths = new Set([...columns.values()].map((column) => column.length));
    if (lengths.size > 1) problems.push({ path: 'inputs', message: `the columns hold different numbers of rows: ${[...columns].map(([name, column]) => `${name} ${column.length}`).join(', ')}` });
    if (problems.length) throw invalid(problems);

    const rows = columns.values().next().value?.length ?? 0;
    if (rows > maxBatch) throw new HttpError(413, `the request holds ${rows} leads; MAX_BATCH is ${maxBatch}`);
    const leads = new Array<Record<string, unknown>>(rows);
    const fields = [...columns];
    for (let row = 0; row < rows; row++) {
      const lead: Record<string, unknown> = {};
      for (const [name, column] of fields) lead[name] = column[row];
      leads[row] = lead;
    }
    const parsed = schema.safeParse({ leads });
    if (parsed.success) return parsed.data.leads;
    // zod names leads[row].field; the client sent inputs[field].data[row].
    throw invalid(
      parsed.error.issues.map((issue) => {
        const [, row, field, ...rest] = issue.path;
        const path = typeof row === 'number' && typeof field === 'string' ? `inputs[${field}].data[${row}]${rest.length ? `.${formatPath(rest)}` : ''}` : 'inputs';
        return { path, message: issue.message };
      }),
    );
  };
}

/** The outputs a request asks for, in its order; the default ones when it names none. */
export function requestedOutputs(request: InferenceRequest): readonly OutputName[] {
  if (wantsBinary(request.parameters, 'binary_data_output')) throw invalid([{ path: 'parameters.binary_data_output', message: 'binary tensor data is not supported; ask for JSON' }]);
  if (!request.outputs?.length) return DEFAULT_OUTPUTS;
  const problems: ErrorDetail[] = [];
  const names: OutputName[] = [];
  for (const output of request.outputs) {
    const at = `outputs[${output.name}]`;
    if (!(OUTPUT_NAMES as readonly string[]).includes(output.name)) problems.push({ path: at, message: `is not an output of this model; it gives ${OUTPUT_NAMES.join(', ')}` });
    else if (names.includes(output.name as OutputName)) problems.push({ path: at, message: 'is requested more than once' });
    else names.push(output.name as OutputName);
    if (wantsBinary(output.parameters, 'binary_data')) problems.push({ path: `${at}.parameters.binary_data`, message: 'binary tensor data is not supported; ask for JSON' });
  }
  if (problems.length) throw invalid(problems);
  return names;
}
