// The model artifact: one self-describing JSON file, verified by its own sha256 when loaded.
import { createHash } from 'node:crypto';
import { access, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { FEATURE_NAMES, Pipeline, PipelineStateSchema, type FeatureName } from '../features/pipeline.js';
import { DriftReferenceSchema } from './drift.js';

export const ARTIFACT_FORMAT = 'leadscore.lead-conversion';
/** 2: solver record from the fit, intercept recalibration, C selection per window, rolling-origin metrics, drift reference. */
export const ARTIFACT_FORMAT_VERSION = 2;
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

const MonthScoreSchema = z.object({ roc_auc: z.number(), brier: z.number(), log_loss: z.number() });

const RecalibrationSchema = z.object({
  method: z.enum(['last-month', 'none']),
  month: z.string().nullable(),
  leads: z.number(),
  converted: z.number(),
  observed_rate: z.number().nullable(),
  mean_predicted_before: z.number().nullable(),
  shift: finite,
  converted_after_cutoff: z.number(),
});

const HyperParametersSchema = z.object({ features: z.array(z.enum(FEATURE_NAMES as [FeatureName, ...FeatureName[]])), minCategoryCount: z.number(), C: z.number() });

const SelectionSchema = z.object({
  criterion: z.string(),
  cutoff: z.string(),
  grid: z.array(z.number()),
  windows: z.array(z.object({ from: z.string(), until: z.string(), fit_leads: z.number(), leads: z.number(), converted: z.number(), pairs: z.number(), scored: z.boolean() })),
  candidates: z.array(
    z.object({
      C: z.number(),
      roc_auc: z.number(),
      roc_auc_se: z.number(),
      log_loss: z.number(),
      windows: z.array(z.object({ roc_auc: z.number().nullable(), log_loss: z.number().nullable() })),
    }),
  ),
  best_C: z.number(),
  threshold_auc: z.number(),
  chosen: HyperParametersSchema,
});

/**
 * Where a model's leads came from when it was trained from the lead-score store (alone or with
 * the Olist files): each source's location (a store without credentials), its counts and a
 * fingerprint of the labelled leads read from it. Absent for a model trained from files only.
 */
export const TrainingSourceSchema = z.object({
  kind: z.enum(['store', 'files']),
  /** `sqlite:/abs/path.db` or `postgres://user@host:5432/db` (never a password), or the data folder. */
  location: z.string(),
  /** Leads with a known outcome read from it, and how many of them converted. */
  leads: z.number(),
  converted: z.number(),
  /** sha256 of those leads (the four fields and the label, in mql_id order). */
  sha256: z.string(),
  /** Leads of it in the training set: every lead of the store; a file's leads minus those the store also holds. */
  used: z.number(),
  /** Files only: leads the store also holds, whose outcome was taken from the store, and how many of those it changed. */
  shared_with_store: z.number().optional(),
  outcome_changed_by_store: z.number().optional(),
});
export type TrainingSource = z.infer<typeof TrainingSourceSchema>;

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
    sources: z.array(TrainingSourceSchema).optional(),
  }),
  pipeline: PipelineStateSchema,
  model: z.object({
    kind: z.literal('logistic_regression'),
    /** The fitted intercept plus the recalibration shift: what scores. */
    intercept: finite,
    weights: z.record(z.string(), finite),
    solver: z.object({
      name: z.string(),
      C: z.number(),
      tolerance: z.number(),
      max_iterations: z.number(),
      iterations: z.number(),
      converged: z.boolean(),
      gradient_max_norm: z.number(),
      line_search_halvings: z.number(),
      fit_ms: z.number(),
    }),
    recalibration: RecalibrationSchema,
  }),
  /** How the shipped model's C was chosen: the grid, each window, each candidate's scores. */
  selection: SelectionSchema,
  metrics: z.object({
    holdout_from: z.string(),
    train_leads: z.number(),
    holdout: EvaluationSchema,
    holdout_base_rate: EvaluationSchema,
    /** The model the holdout figures belong to: the same procedure on the leads before holdout_from. */
    holdout_model: z.object({ C: z.number(), recalibration: RecalibrationSchema, selection: SelectionSchema }),
    rolling_origin: z.object({
      months: z.array(
        MonthScoreSchema.extend({
          month: z.string(),
          train_leads: z.number(),
          leads: z.number(),
          converted: z.number(),
          C: z.number(),
          intercept_shift: z.number(),
          base_rate: MonthScoreSchema,
          reference_pipeline: MonthScoreSchema,
        }),
      ),
      mean: MonthScoreSchema,
      base_rate_mean: MonthScoreSchema,
      reference_pipeline_mean: MonthScoreSchema,
    }),
    cross_validation: z.object({ folds: z.number(), aucs: z.array(z.number()), meanAuc: z.number(), stdAuc: z.number() }),
  }),
  /** Lowest probability of each tier; below C's cut-point is tier D. */
  tiers: z.object({ A: z.number(), B: z.number(), C: z.number() }).refine((t) => t.A >= t.B && t.B >= t.C, 'cut-points must satisfy A ≥ B ≥ C'),
  /** The training distribution drift is measured against. */
  reference: DriftReferenceSchema,
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
    const older = typeof head.format_version === 'number' && head.format_version < ARTIFACT_FORMAT_VERSION;
    throw new ArtifactError(
      file,
      `format_version ${JSON.stringify(head.format_version)} cannot be read; this build reads version ${ARTIFACT_FORMAT_VERSION}` +
        (older ? ' (older artifacts lack the training-distribution reference drift is measured against): retrain it with npm run train' : ''),
    );
  }
  if (!('reference' in head) || (head as { reference?: unknown }).reference == null) {
    throw new ArtifactError(file, 'has no training-distribution reference, which drift is measured against: retrain it with npm run train');
  }
  // jitless: zod compiles a fast path for each object schema on its first parse, which pays off for
  // a schema parsed on every request, not for one parsed once a start: 10-11 ms against 30-33 ms
  // for the shipped artifact in a fresh process.
  const parsed = ArtifactSchema.safeParse(json, { jitless: true });
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

/** A temporary name beside `file`, unique to this process and call, that a reader never mistakes for a model. */
function temporaryName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${++temporaryCounter}.tmp`);
}
let temporaryCounter = 0;

/** Writes to a temporary file in the same folder, then renames: readers see the old file or the whole new one. */
export async function writeFileAtomically(file: string, content: string): Promise<void> {
  const temporary = temporaryName(file);
  try {
    await writeFile(temporary, content);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export function artifactFileName(version: string): string {
  return `lead-conversion-${version}.json`;
}

export interface ArtifactPointer {
  artifact: string;
  model_version: string;
  sha256: string;
}

export interface PublishOptions {
  /** Files to write beside the artifact (the report), named relative to the folder. */
  companions?: { name: string; content: string | Uint8Array }[];
  /** The file writer; tests pass one that fails to check that nothing is left half-done. */
  writeFile?: (file: string, content: string | Uint8Array) => Promise<void>;
  /**
   * Whether the folder's pointer moves to the new artifact once it is complete (default true).
   * False saves the artifact beside the default without changing it: the promotion gate decides.
   */
  makeDefault?: boolean;
}

/**
 * Saves the artifact and its companions, and only when every one of them is complete on disk
 * moves the folder's default pointer to it (unless `makeDefault` is false). Everything is first written under temporary names;
 * on any failure the temporary files, and any new file already renamed into place, are removed
 * and the pointer is left as it was. Returns the artifact's path.
 */
export async function publishArtifact(artifact: Artifact, dir: string, options: PublishOptions = {}): Promise<string> {
  const write = options.writeFile ?? ((file: string, content: string | Uint8Array) => writeFile(file, content));
  const file = path.join(dir, artifactFileName(artifact.model_version));
  const pointer: ArtifactPointer = { artifact: path.basename(file), model_version: artifact.model_version, sha256: artifact.sha256 };
  const outputs = [
    { target: file, content: `${JSON.stringify(artifact, null, 2)}\n` },
    ...(options.companions ?? []).map(({ name, content }) => {
      if (name.includes('/') || name === POINTER_FILE) throw new ArtifactError(name, 'a companion file must be a plain name in the artifact folder');
      return { target: path.join(dir, name), content };
    }),
    ...(options.makeDefault === false ? [] : [{ target: path.join(dir, POINTER_FILE), content: `${JSON.stringify(pointer, null, 2)}\n` }]),
  ].map((output) => ({ ...output, temporary: temporaryName(output.target) }));
  const renamed: string[] = [];
  try {
    for (const output of outputs) await write(output.temporary, output.content);
    // The pointer is renamed last: until then the old default stays the default.
    for (const output of outputs) {
      if (output.target !== path.join(dir, POINTER_FILE) && !(await exists(output.target))) renamed.push(output.target);
      await rename(output.temporary, output.target);
    }
  } catch (error) {
    await Promise.all([...outputs.map((output) => rm(output.temporary, { force: true })), ...renamed.map((target) => rm(target, { force: true }))]);
    throw error;
  }
  return file;
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** Saves the artifact and makes it the folder's default; returns the artifact's path. */
export async function saveArtifact(artifact: Artifact, dir: string): Promise<string> {
  return publishArtifact(artifact, dir);
}

/** Follows a folder's default pointer: the artifact file it names and the sha256 it expects, when it records one. */
export async function resolveDefaultArtifact(dir: string): Promise<{ file: string; sha256?: string }> {
  const pointerFile = path.join(dir, POINTER_FILE);
  let pointer: unknown;
  try {
    pointer = JSON.parse(await readFile(pointerFile, 'utf8'));
  } catch (error) {
    throw new ArtifactError(pointerFile, `cannot read the default-model pointer (${(error as Error).message})`);
  }
  if (!pointer || typeof pointer !== 'object' || Array.isArray(pointer)) {
    throw new ArtifactError(pointerFile, `the default-model pointer must be a JSON object naming an artifact, got ${pointer === null ? 'null' : Array.isArray(pointer) ? 'an array' : typeof pointer}`);
  }
  const { artifact, sha256 } = pointer as { artifact?: unknown; sha256?: unknown };
  if (typeof artifact !== 'string' || artifact === '' || artifact.includes('/') || artifact.includes('\\')) {
    throw new ArtifactError(pointerFile, 'the pointer must name an artifact file in the same folder ("artifact": "lead-conversion-….json")');
  }
  if (sha256 !== undefined && (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256))) {
    throw new ArtifactError(pointerFile, `the pointer's sha256 must be 64 lower-case hex digits, got ${JSON.stringify(sha256)}`);
  }
  return { file: path.join(dir, artifact), ...(sha256 === undefined ? {} : { sha256 }) };
}

/** Reads a model from a path that is either an artifact or a folder with a default pointer. */
export async function loadArtifact(location: string): Promise<{ file: string; artifact: Artifact }> {
  const isPointer = path.basename(location) === POINTER_FILE;
  if (!isPointer && location.endsWith('.json')) return { file: location, artifact: await readArtifact(location) };
  const dir = isPointer ? path.dirname(location) : location;
  const { file, sha256 } = await resolveDefaultArtifact(dir);
  const artifact = await readArtifact(file);
  if (sha256 !== undefined && sha256 !== artifact.sha256) {
    throw new ArtifactError(
      path.join(dir, POINTER_FILE),
      `names ${path.basename(file)} with sha256 ${sha256.slice(0, 12)}…, but that file's sha256 is ${artifact.sha256.slice(0, 12)}…: the pointer and the artifact do not belong together (retrain, or point it at the right file)`,
    );
  }
  return { file, artifact };
}
