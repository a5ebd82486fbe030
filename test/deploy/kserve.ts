// Offline checks of KServe's ServingRuntime and InferenceService. No package carries KServe's schemas, so
// their own fields are written here from KServe's Go API types (pkg/apis/serving in kserve/kserve:
// v1alpha1/servingruntime_types.go, v1beta1/predictor.go, predictor_model.go, component.go, podspec.go),
// and every Kubernetes type they embed (Container, Volume, the PodSpec fields) goes through Kubernetes'
// own schemas. Strict: a field KServe does not define is an error, as the API server's strict field
// validation would make it.
import { z } from 'zod';
import { partProblems } from './kubernetes.js';

const PROTOCOLS = ['v1', 'v2', 'grpc-v1', 'grpc-v2'] as const;
const stringMap = z.record(z.string(), z.string());
const dns1123Label = z.string().regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/, 'must be a lower-case DNS label starting with a letter').max(63);

const Metadata = z
  .object({ name: dns1123Label, namespace: z.string().optional(), labels: stringMap.optional(), annotations: stringMap.optional() })
  .strict();

// ServingRuntimeSpec: its own fields, then the ServingRuntimePodSpec it inlines.
const SupportedModelFormat = z
  .object({ name: z.string().min(1), version: z.string().optional(), autoSelect: z.boolean().optional(), priority: z.int().min(1).optional() })
  .strict();
/** The inlined pod fields: a Kubernetes type's declaration path, or 'stringMap' / 'boolean'. */
const RUNTIME_POD_FIELDS: Record<string, string> = {
  containers: 'v1/Container',
  volumes: 'v1/Volume',
  tolerations: 'v1/Toleration',
  imagePullSecrets: 'v1/LocalObjectReference',
  affinity: 'v1/Affinity',
  nodeSelector: 'stringMap',
  labels: 'stringMap',
  annotations: 'stringMap',
  hostIPC: 'boolean',
};
const RuntimeOwnFields = z
  .object({
    supportedModelFormats: z.array(SupportedModelFormat).optional(),
    multiModel: z.boolean().optional(),
    disabled: z.boolean().optional(),
    protocolVersions: z.array(z.enum(PROTOCOLS)).optional(),
    grpcEndpoint: z.string().optional(),
    grpcDataEndpoint: z.string().optional(),
    httpDataEndpoint: z.string().optional(),
    replicas: z.int().min(0).optional(),
    storageHelper: z.object({ disabled: z.boolean().optional() }).strict().optional(),
  })
  .strict();

// PredictorSpec: framework one-ofs and `model`, ComponentExtensionSpec, and the PodSpec it inlines.
const ComponentExtension = {
  minReplicas: z.int().min(0).optional(),
  maxReplicas: z.int().min(0).optional(),
  scaleTarget: z.int().min(1).optional(),
  scaleMetric: z.enum(['cpu', 'memory', 'concurrency', 'rps']).optional(),
  containerConcurrency: z.int().min(0).optional(),
  timeout: z.int().min(1).optional(),
  canaryTrafficPercent: z.int().min(0).max(100).optional(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
};
const ModelOwnFields = z
  .object({
    modelFormat: z.object({ name: z.string().min(1), version: z.string().optional() }).strict(),
    runtime: z.string().optional(),
    storageUri: z.string().min(1).optional(),
    runtimeVersion: z.string().optional(),
    protocolVersion: z.enum(PROTOCOLS).optional(),
  })
  .strict();
const PredictorOwnFields = z
  .object({
    ...ComponentExtension,
    model: z.record(z.string(), z.unknown()).optional(), // checked below: its own fields plus an inlined Container
    storageUris: z.array(z.object({ uri: z.string().min(1), mountPath: z.string().regex(/^\//).max(255).optional() }).strict()).min(1).optional(),
  })
  .strict();
const PREDICTOR_OWN = new Set(Object.keys(PredictorOwnFields.shape));
const MODEL_OWN = new Set(Object.keys(ModelOwnFields.shape));
// Framework-specific predictors (sklearn, xgboost, …) and workerSpec are not used here: refused rather than half-checked.

const zodProblems = (result: { success: boolean; error?: z.ZodError }, at: string) =>
  result.success ? [] : result.error!.issues.map((issue) => `${at}${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${issue.message}`);

const split = (value: Record<string, unknown>, own: Set<string>) => {
  const mine: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) (own.has(key) ? mine : rest)[key] = item;
  return [mine, rest] as const;
};

function servingRuntimeProblems(spec: Record<string, unknown>, at: string): string[] {
  const [podFields, own] = split(spec, new Set(Object.keys(RUNTIME_POD_FIELDS)));
  const problems = zodProblems(RuntimeOwnFields.safeParse(own), at);
  if (!Array.isArray(podFields.containers) || podFields.containers.length === 0) problems.push(`${at}.containers: at least one container is required`);
  for (const [key, value] of Object.entries(podFields)) {
    const type = RUNTIME_POD_FIELDS[key]!;
    if (type === 'stringMap') problems.push(...zodProblems(stringMap.safeParse(value), `${at}.${key}`));
    else if (type === 'boolean') problems.push(...zodProblems(z.boolean().safeParse(value), `${at}.${key}`));
    else if (Array.isArray(value)) value.forEach((item, i) => problems.push(...partProblems(item, type, `${at}.${key}[${i}]`)));
    else if (type === 'v1/Affinity') problems.push(...partProblems(value, type, `${at}.${key}`));
    else problems.push(`${at}.${key}: must be a list`);
  }
  return problems;
}

function predictorProblems(predictor: Record<string, unknown>, at: string): string[] {
  const [own, podFields] = split(predictor, PREDICTOR_OWN);
  const problems = zodProblems(PredictorOwnFields.safeParse(own), at);
  // Whatever is not KServe's own is the inlined PodSpec (whose `containers` KServe makes optional).
  if (Object.keys(podFields).length > 0) problems.push(...partProblems({ containers: [], ...podFields }, 'v1/PodSpec', at));
  const model = own.model as Record<string, unknown> | undefined;
  const customContainers = Array.isArray(podFields.containers) && podFields.containers.length > 0;
  if (!model === !customContainers) problems.push(`${at}: exactly one of model or containers must be set`);
  if (model) {
    const [modelOwn, container] = split(model, MODEL_OWN);
    problems.push(...zodProblems(ModelOwnFields.safeParse(modelOwn), `${at}.model`));
    // The model's container overrides are a Container whose name KServe fills in.
    if (Object.keys(container).length > 0) problems.push(...partProblems({ name: 'kserve-container', ...container }, 'v1/Container', `${at}.model`));
  }
  return problems;
}

const Envelope = (apiVersion: string, kind: string) =>
  z.object({ apiVersion: z.literal(apiVersion), kind: z.literal(kind), metadata: Metadata, spec: z.record(z.string(), z.unknown()) }).strict();

export const KSERVE_KINDS: Record<string, (object: Record<string, unknown>, at: string) => string[]> = {
  'serving.kserve.io/v1alpha1/ServingRuntime': (object, at) => kserveObject(object, at, 'serving.kserve.io/v1alpha1', 'ServingRuntime'),
  'serving.kserve.io/v1alpha1/ClusterServingRuntime': (object, at) => kserveObject(object, at, 'serving.kserve.io/v1alpha1', 'ClusterServingRuntime'),
  'serving.kserve.io/v1beta1/InferenceService': (object, at) => kserveObject(object, at, 'serving.kserve.io/v1beta1', 'InferenceService'),
};

function kserveObject(object: Record<string, unknown>, at: string, apiVersion: string, kind: string): string[] {
  const envelope = Envelope(apiVersion, kind).safeParse(object);
  if (!envelope.success) return zodProblems(envelope, at);
  const spec = envelope.data.spec;
  if (kind !== 'InferenceService') return servingRuntimeProblems(spec, `${at}.spec`);
  const { predictor, ...others } = spec;
  const problems = Object.keys(others).map((key) => `${at}.spec.${key}: only a predictor is checked here (transformer and explainer are not used)`);
  if (!predictor || typeof predictor !== 'object') return [...problems, `${at}.spec.predictor: required`];
  return [...problems, ...predictorProblems(predictor as Record<string, unknown>, `${at}.spec.predictor`)];
}
