// Offline checks of Kubernetes objects: the API's own OpenAPI schemas, and no field the API does not know.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Deployment, DeploymentStrategy } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Affinity, ConfigMap, Container, LocalObjectReference, PodSpec, Secret, Service, Toleration, Volume } from 'kubernetes-models/v1';

const PACKAGE = path.resolve('node_modules/kubernetes-models');

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

/** Whole objects, by `apiVersion/kind`: the kinds the manifests use. */
const OBJECTS: Record<string, ModelClass> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

/** Kubernetes types that KServe's resources embed, by their declaration's path in kubernetes-models. */
const PARTS: Record<string, ModelClass> = {
  'v1/Container': Container,
  'v1/Volume': Volume,
  'v1/PodSpec': PodSpec,
  'v1/Affinity': Affinity,
  'v1/Toleration': Toleration,
  'v1/LocalObjectReference': LocalObjectReference,
  'apps/v1/DeploymentStrategy': DeploymentStrategy,
};

export const isKubernetesKind = (apiVersion: string, kind: string) => `${apiVersion}/${kind}` in OBJECTS;

/** What the schema says about a value: its problems, each as `path: message`. */
function schemaProblems(Model: ModelClass, value: unknown, at: string): string[] {
  try {
    new Model(value as never).validate();
    return [];
  } catch (error) {
    const issues = (error as { errors?: { instancePath: string; message?: string }[] }).errors;
    if (!issues) throw error;
    // ajv's JSON pointers ("/spec/replicas") become the manifest's own paths.
    return issues.map((issue) => `${at}${issue.instancePath.replace(/\//g, '.')}: ${issue.message}`);
  }
}

/** A whole object from a manifest: the API's schema for its kind, and no unknown field anywhere in it. */
export function kubernetesProblems(object: Record<string, unknown>, at: string): string[] {
  const key = `${String(object.apiVersion)}/${String(object.kind)}`;
  const Model = OBJECTS[key];
  if (!Model) return [`${at}: ${key} is not a kind this check knows; add its model to test/deploy/kubernetes.ts`];
  return [...schemaProblems(Model, object, at), ...unknownFields(object, key, at)];
}

/** A Kubernetes type embedded in another resource (KServe's containers, volumes, pod fields). */
export function partProblems(value: unknown, type: string, at: string): string[] {
  const Model = PARTS[type];
  if (!Model) throw new Error(`no model for ${type}; add it to PARTS in test/deploy/kubernetes.ts`);
  return [...schemaProblems(Model, value, at), ...unknownFields(value, type, at)];
}

// Unknown fields. Kubernetes' OpenAPI schemas, and so kubernetes-models, accept properties they do not
// declare, but the API server rejects them (kubectl's default --validate=strict): a misspelt
// `readinessprobe` would pass the schema and fail on the cluster. The property names come from the
// declarations kubernetes-models generates from the same OpenAPI document (`"name"?: Type;` lines).

type FieldType = { kind: 'leaf' } | { kind: 'ref'; file: string } | { kind: 'array'; of: FieldType } | { kind: 'map'; of: FieldType };
type Shape = Map<string, FieldType>;
const shapes = new Map<string, Shape | null>();

function resolveImport(specifier: string, from: string): string {
  if (specifier.startsWith('.')) return path.resolve(path.dirname(from), specifier.replace(/\.js$/, '.d.ts'));
  if (specifier.startsWith('@kubernetes-models/')) return path.resolve('node_modules', `${specifier}.d.ts`);
  throw new Error(`${from}: cannot resolve the import ${specifier}`);
}

function parseType(text: string, imports: Map<string, string>, file: string): FieldType {
  const array = /^Array<(.+)>$/.exec(text);
  if (array) return { kind: 'array', of: parseType(array[1]!, imports, file) };
  const referenced = imports.get(text);
  if (referenced) return { kind: 'ref', file: referenced };
  if (/^(string|number|boolean|any|unknown|object)$/.test(text) || /^"[^"]*"( \| "[^"]*")*$/.test(text)) return { kind: 'leaf' };
  throw new Error(`${file}: cannot read the type ${text}; the declarations changed shape`);
}

/** The declared properties of a declaration file's interface, or null for a plain alias such as Quantity or IntOrString. */
function shapeOf(file: string): Shape | null {
  if (shapes.has(file)) return shapes.get(file)!;
  const text = readFileSync(file, 'utf8');
  const imports = new Map([...text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)].map((m) => [m[1]!, resolveImport(m[2]!, file)]));
  const lines = text.split('\n');
  const start = lines.findIndex((line) => /^export interface I\w+( extends [\w, ]+)? \{$/.test(line));
  if (start < 0) {
    if (!/^export type I\w+ = /m.test(text)) throw new Error(`${file}: neither an interface nor a type alias`);
    shapes.set(file, null);
    return null;
  }
  const shape: Shape = new Map();
  for (let i = start + 1; lines[i] !== '}'; i++) {
    const property = /^ {4}"([^"]+)"\??: (.+)$/.exec(lines[i]!);
    if (!property) continue; // doc comments
    const [, name, rest] = property;
    if (rest === '{') {
      // An inline map: `{ [key: string]: T; }` over the next lines.
      const value = /^\s+\[key: string\]: (.+);$/.exec(lines[++i]!);
      if (!value) throw new Error(`${file}: cannot read the map type of ${name}`);
      shape.set(name!, { kind: 'map', of: parseType(value[1]!, imports, file) });
      i++; // the closing `};`
    } else {
      shape.set(name!, parseType(rest!.replace(/;$/, ''), imports, file));
    }
  }
  if (shape.size === 0) throw new Error(`${file}: no properties read; the declarations changed shape`);
  shapes.set(file, shape);
  return shape;
}

function walk(value: unknown, type: FieldType, at: string, problems: string[]): void {
  if (value === null || value === undefined || type.kind === 'leaf') return;
  if (type.kind === 'array') {
    if (Array.isArray(value)) value.forEach((item, i) => walk(item, type.of, `${at}[${i}]`, problems));
    return;
  }
  if (typeof value !== 'object' || Array.isArray(value)) return; // a wrong type is the schema's to report
  if (type.kind === 'map') {
    for (const [key, item] of Object.entries(value)) walk(item, type.of, `${at}.${key}`, problems);
    return;
  }
  const shape = shapeOf(type.file);
  if (!shape) return;
  for (const [key, item] of Object.entries(value)) {
    const field = shape.get(key);
    if (!field) problems.push(`${at}.${key}: not a field of ${path.basename(type.file, '.d.ts')}`);
    else walk(item, field, `${at}.${key}`, problems);
  }
}

function unknownFields(value: unknown, type: string, at: string): string[] {
  const problems: string[] = [];
  walk(value, { kind: 'ref', file: path.join(PACKAGE, `${type}.d.ts`) }, at, problems);
  return problems;
}
