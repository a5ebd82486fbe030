// The model artifact: one self-describing JSON file, verified by its own sha256 when loaded.
import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { Pipeline, PipelineStateSchema } from '../features/pipeline.js';

export const ARTIFACT_FORMAT = 'leadscore.lead-conversion';
export const ARTIFACT_FORMAT_VERSION = 1;
export const POINTER_FILE = 'latest.json';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

const TopShareSchema = z.object({ fraction: z.number(), leads: z.number(), captured: z.number(), lift: z.number() });
const EvaluationSchema = z.object({
  leads: z.number(),
  converted: z.number(),
  rocAuc: z.number(),
  prAuc: z.number(),
  brier: z.number(),
  logLoss: z.number(),
  top10: TopShareSchema,
  top20: TopShareSchema,
  calibration: z.array(
    z.object({ lower: z.number(), upper: z.number(), count: z.number(), meanPredicted: z.number().nullable(), observedRate: z.number().nullable() }),
  ),
});

export const ArtifactSchema = z.object({
  format: z.literal(ARTIFACT_FORMAT),
  format_version: z.literal(ARTIFACT_FORMAT_VERSION),
  model_version: z.string().min(1),
  created_at: z.string(),
  training_data: z.object({
    files: z.array(z.object({ file: z.string(), sha256: z.string(), rows: z.number() })),
    leads: z.number(),
    converted: z.number(),
    rejected_rows: z.number(),
    first_contact_from: z.string(),
    first_contact_to: z.string(),
  }),
  pipeline: PipelineStateSchema,
  model: z.object({
    kind: z.literal('logistic_regression'),
    intercept: finite,
    weights: z.record(z.string(), finite),
    solver: z.object({
      name: z.string(),
      C: z.number(),
      tolerance: z.number(),
      iterations: z.number(),
      gradient_max_norm: z.number(),
      fit_ms: z.number(),
    }),
  }),
  selection: z.object({
    criterion: z.string(),
    validate_from: z.string(),
    validate_until: z.string(),
    chosen: z.object({ features: z.array(z.string()), minCategoryCount: z.number(), C: z.number() }),
    validation_auc: z.number(),
    validation_log_loss: z.number(),
    candidates: z.number(),
  }),
  metrics: z.object({
    holdout_from: z.string(),
    train_leads: z.number(),
    holdout: EvaluationSchema,
    holdout_base_rate: EvaluationSchema,
    cross_validation: z.object({ folds: z.number(), aucs: z.array(z.number()), meanAuc: z.number(), stdAuc: z.number() }),
  }),
  /** Lowest probability of each tier; below C's cut-point is tier D. */
  tiers: z.object({ A: z.number(), B: z.number(), C: z.number() }).refine((t) => t.A >= t.B && t.B >= t.C, 'cut-points must satisfy A ≥ B ≥ C'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

export type Artifact = z.infer<typeof ArtifactSchema>;
export type ArtifactBody = Omit<Artifact, 'sha256'>;

/** JSON with object keys sorted at every depth: the bytes the sha256 is taken over. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}

export function contentHash(body: ArtifactBody): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

export class ArtifactError extends Error {
  constructor(readonly file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.name = 'ArtifactError';
  }
}

export function sealArtifact(body: ArtifactBody): Artifact {
  return { ...body, sha256: contentHash(body) };
}

/** Checks format, schema, sha256 and that the weights match the pipeline's features; returns the artifact. */
export function verifyArtifact(json: unknown, file = 'artifact'): Artifact {
  const head = json as { format?: unknown; format_version?: unknown } | null;
  if (!head || typeof head !== 'object' || head.format !== ARTIFACT_FORMAT) {
    throw new ArtifactError(file, `not a lead-conversion model: format is ${JSON.stringify(head?.format)}, expected "${ARTIFACT_FORMAT}"`);
  }
  if (head.format_version !== ARTIFACT_FORMAT_VERSION) {
    throw new ArtifactError(file, `format_version ${JSON.stringify(head.format_version)} cannot be read; this build reads version ${ARTIFACT_FORMAT_VERSION}`);
  }
  const parsed = ArtifactSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ArtifactError(file, `invalid artifact: ${issue.path.join('.') || '(root)'} ${issue.message}`);
  }
  const { sha256, ...body } = parsed.data;
  // Hash what was read, not what the schema kept, so an added field is caught as well.
  const { sha256: _ignored, ...readBody } = json as Record<string, unknown>;
  const actual = createHash('sha256').update(canonicalJson(readBody)).digest('hex');
  if (actual !== sha256) throw new ArtifactError(file, `content does not match its sha256 (recorded ${sha256.slice(0, 12)}…, computed ${actual.slice(0, 12)}…): the file was changed after training`);
  let featureNames: string[];
  try {
    featureNames = Pipeline.fromJSON(body.pipeline).featureNames;
  } catch (error) {
    throw new ArtifactError(file, `invalid pipeline state: ${(error as Error).message}`);
  }
  const missing = featureNames.filter((name) => !(name in body.model.weights));
  const extra = Object.keys(body.model.weights).filter((name) => !featureNames.includes(name));
  if (missing.length || extra.length) throw new ArtifactError(file, `weights do not match the pipeline (missing: ${missing.slice(0, 3).join(', ') || 'none'}; unknown: ${extra.slice(0, 3).join(', ') || 'none'})`);
  return parsed.data;
}

export async function readArtifact(file: string): Promise<Artifact> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ArtifactError(file, code === 'ENOENT' ? 'no such file' : `cannot read it (${code ?? (error as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ArtifactError(file, `not valid JSON (${(error as Error).message}); the file is corrupt or truncated`);
  }
  return verifyArtifact(json, file);
}

/** Writes to a temporary file in the same folder, then renames: readers see the old file or the whole new one. */
export async function writeFileAtomically(file: string, content: string): Promise<void> {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  await writeFile(temporary, content);
  await rename(temporary, file);
}

export function artifactFileName(version: string): string {
  return `lead-conversion-${version}.json`;
}

export interface ArtifactPointer {
  artifact: string;
  model_version: string;
  sha256: string;
}

/** Saves the artifact and makes it the folder's default; returns the artifact's path. */
export async function saveArtifact(artifact: Artifact, dir: string): Promise<string> {
  const file = path.join(dir, artifactFileName(artifact.model_version));
  await writeFileAtomically(file, `${JSON.stringify(artifact, null, 2)}\n`);
  const pointer: ArtifactPointer = { artifact: path.basename(file), model_version: artifact.model_version, sha256: artifact.sha256 };
  await writeFileAtomically(path.join(dir, POINTER_FILE), `${JSON.stringify(pointer, null, 2)}\n`);
  return file;
}

/** Follows a folder's default pointer to its artifact file. */
export async function resolveDefaultArtifact(dir: string): Promise<string> {
  const pointerFile = path.join(dir, POINTER_FILE);
  let pointer: ArtifactPointer;
  try {
    pointer = JSON.parse(await readFile(pointerFile, 'utf8')) as ArtifactPointer;
  } catch (error) {
    throw new ArtifactError(pointerFile, `cannot read the default-model pointer (${(error as Error).message})`);
  }
  if (typeof pointer.artifact !== 'string' || pointer.artifact.includes('/')) throw new ArtifactError(pointerFile, 'the pointer must name an artifact file in the same folder');
  return path.join(dir, pointer.artifact);
}

/** Reads a model from a path that is either an artifact or a folder with a default pointer. */
export async function loadArtifact(location: string): Promise<{ file: string; artifact: Artifact }> {
  const isPointer = path.basename(location) === POINTER_FILE;
  const file = isPointer
    ? await resolveDefaultArtifact(path.dirname(location))
    : location.endsWith('.json')
      ? location
      : await resolveDefaultArtifact(location);
  return { file, artifact: await readArtifact(file) };
}
