// deploy/k8s and deploy/kserve, checked without a cluster: every object against Kubernetes' (or KServe's)
// API schemas, and every name, path and port they hand the service against what the service really does.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ENV_KEYS, loadConfig } from '../../src/server/config.js';
import { buildTestApp, keyFor, TEST_KEY } from '../server/helper.js';
import { KSERVE_KINDS } from './kserve.js';
import { isKubernetesKind, kubernetesProblems } from './kubernetes.js';

/**
 * Variables the service is about to read (the store and metrics releases). The manifests carry them as
 * comments until src/server/config.ts reads them; then the test below asks for them to be uncommented.
 */
/** Variables a manifest may mention in a comment before the service reads them; none are pending now. */
const PLANNED_ENV: string[] = [];
const KUBERNETES_DEFAULT_GRACE_S = 30;

// Loosely typed on purpose: these are parsed YAML, which the schema tests below are there to vouch for.
type Obj = Record<string, any>;
interface Manifest {
  file: string;
  object: Obj;
  label: string;
}

const DIRS = ['deploy/k8s', 'deploy/kserve'];
const files = DIRS.flatMap((dir) => readdirSync(dir).filter((name) => /\.ya?ml$/.test(name)).map((name) => `${dir}/${name}`));
const texts = new Map(files.map((file) => [file, readFileSync(file, 'utf8')]));
const manifests: Manifest[] = files.flatMap((file) =>
  parseAllDocuments(texts.get(file)!).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const object = doc.toJS() as Obj;
    return { file, object, label: `${file} ${object.kind}/${object.metadata?.name}` };
  }),
);
const objects = (kind: string) => manifests.filter((m) => m.object.kind === kind).map((m) => m.object);
const one = (kind: string) => {
  const found = objects(kind);
  if (found.length !== 1) throw new Error(`expected one ${kind} in ${DIRS.join(' and ')}, found ${found.length}`);
  return found[0]!;
};

const deployment = one('Deployment');
const pod = deployment.spec.template.spec;
const runtime = one('ServingRuntime');
const isvc = one('InferenceService');
const configMaps = new Map(objects('ConfigMap').map((o) => [o.metadata.name, (o.data ?? {}) as Record<string, string>]));
const secrets = new Map(objects('Secret').map((o) => [o.metadata.name, (o.stringData ?? {}) as Record<string, string>]));

// The image's runtime stage: its ENV defaults and its numeric user.
const dockerfile = readFileSync('Dockerfile', 'utf8').replace(/\\\n/g, ' ');
const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
const imageEnv = Object.fromEntries(
  [...runtimeStage.matchAll(/^ENV (.+)$/gm)].flatMap((m) => [...m[1]!.matchAll(/(\w+)=(\S+)/g)].map((pair) => [pair[1]!, pair[2]!])),
);
const imageUser = /^USER (\d+)(?::(\d+))?$/m.exec(runtimeStage);

// How long in-flight requests get after the server stops accepting (a constant of the process entry).
const deadline = /const SHUTDOWN_DEADLINE_MS = ([\d_]+);/.exec(readFileSync('src/server/main.ts', 'utf8'));

interface Workload {
  name: string;
  container: Obj;
  podSecurity: Obj;
  volumes: Obj[];
  graceSeconds: number;
}
const workloads: Workload[] = [
  { name: 'Deployment', container: pod.containers[0], podSecurity: pod.securityContext ?? {}, volumes: pod.volumes ?? [], graceSeconds: pod.terminationGracePeriodSeconds ?? KUBERNETES_DEFAULT_GRACE_S },
  {
    name: 'ServingRuntime',
    container: runtime.spec.containers.find((c: Obj) => c.name === 'kserve-container'),
    podSecurity: isvc.spec.predictor.securityContext ?? {},
    volumes: runtime.spec.volumes ?? [],
    // Raw-deployment mode keeps Kubernetes' default; Knative's (serverless) is the revision timeout, 300 s by default.
    graceSeconds: isvc.spec.predictor.terminationGracePeriodSeconds ?? KUBERNETES_DEFAULT_GRACE_S,
  },
];

/** The names a container's environment takes from the manifests (the image's own ENV excluded). */
function envNames(container: Obj): string[] {
  const fromSources = (container.envFrom ?? []).flatMap((source: Obj) =>
    Object.keys((source.configMapRef ? configMaps.get(source.configMapRef.name) : secrets.get(source.secretRef?.name)) ?? {}),
  );
  return [...fromSources, ...(container.env ?? []).map((e: Obj) => e.name as string)];
}

/** The environment the container's process sees: the image's ENV, then envFrom, then env (Kubernetes' order). */
function effectiveEnv(container: Obj): Record<string, string> {
  const env: Record<string, string> = { ...imageEnv };
  for (const source of container.envFrom ?? []) {
    const values = source.configMapRef ? configMaps.get(source.configMapRef.name) : secrets.get(source.secretRef?.name);
    if (!values) throw new Error(`envFrom names ${JSON.stringify(source)}, which no manifest defines`);
    Object.assign(env, values);
  }
  for (const e of container.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    const value = ref ? secrets.get(ref.name)?.[ref.key] : e.value;
    if (value === undefined) throw new Error(`env ${e.name} refers to ${JSON.stringify(e.valueFrom)}, which no manifest defines`);
    env[e.name] = String(value);
  }
  return env;
}

const quantityMiB = (quantity: string) => {
  const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (!match) throw new Error(`memory quantity ${quantity}: write it in Mi or Gi`);
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1);
};

const apps: { app: { close(): Promise<unknown> } }[] = [];
const serviceApp = async () => {
  const built = await buildTestApp({ apiKeys: [keyFor(TEST_KEY)] });
  apps.push(built);
  return built.app;
};
afterAll(async () => {
  await Promise.all(apps.map(({ app }) => app.close()));
});
const routesApp = await serviceApp();
const hasGet = (url: string) => routesApp.hasRoute({ method: 'GET', url });

describe('the manifests against the API schemas', () => {
  it('are all Kubernetes kinds with a schema here, KServe kinds, or the kustomization', () => {
    expect(manifests.length).toBeGreaterThanOrEqual(9);
    const known = ({ object }: Manifest) => isKubernetesKind(object.apiVersion, object.kind) || `${object.apiVersion}/${object.kind}` in KSERVE_KINDS || object.kind === 'Kustomization';
    expect(manifests.filter((m) => !known(m)).map((m) => m.label)).toEqual([]);
  });

  it('validate against the Kubernetes OpenAPI schemas, with no field the API does not define', () => {
    const problems = manifests.filter(({ object }) => isKubernetesKind(object.apiVersion, object.kind)).flatMap(({ object, label }) => kubernetesProblems(object, label));
    expect(problems).toEqual([]);
  });

  it('validate the KServe objects against KServe’s fields, and what they embed against Kubernetes’ schemas', () => {
    const problems = manifests.flatMap(({ object, label }) => KSERVE_KINDS[`${object.apiVersion}/${object.kind}`]?.(object, label) ?? []);
    expect(problems).toEqual([]);
  });

  it('each have a DNS-label name, and the kustomization lists every manifest of deploy/k8s but the Secret template', () => {
    for (const { object, label } of manifests.filter((m) => m.object.kind !== 'Kustomization')) expect(object.metadata?.name, label).toMatch(/^[a-z]([-a-z0-9]*[a-z0-9])?$/);
    const kustomization = one('Kustomization');
    expect(Object.keys(kustomization).sort()).toEqual(['apiVersion', 'kind', 'resources']);
    expect(kustomization.apiVersion).toBe('kustomize.config.k8s.io/v1beta1');
    const listed = kustomization.resources as string[];
    const present = readdirSync('deploy/k8s').filter((name) => /\.ya?ml$/.test(name) && name !== 'kustomization.yaml' && name !== 'secret.yaml');
    expect([...listed].sort()).toEqual(present.sort());
  });

  it('are validated strictly enough to catch a wrong type, a misspelt field and an unknown protocol', () => {
    const copy = <T>(value: T): T => structuredClone(value);
    const badPort = copy(deployment);
    badPort.spec.template.spec.containers[0].ports[0].containerPort = '3000';
    expect(kubernetesProblems(badPort, 'x').join('\n')).toMatch(/containerPort: must be integer/);
    const misspelt = copy(deployment);
    misspelt.spec.template.spec.containers[0].readinessprobe = misspelt.spec.template.spec.containers[0].readinessProbe;
    expect(kubernetesProblems(misspelt, 'x').join('\n')).toMatch(/containers\[0\]\.readinessprobe: not a field of Container/);
    const v3 = copy(isvc);
    v3.spec.predictor.model.protocolVersion = 'v3';
    expect(KSERVE_KINDS['serving.kserve.io/v1beta1/InferenceService']!(v3, 'x').join('\n')).toMatch(/model\.protocolVersion/);
    const runtimeTypo = copy(runtime);
    runtimeTypo.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
    expect(KSERVE_KINDS['serving.kserve.io/v1alpha1/ServingRuntime']!(runtimeTypo, 'x').join('\n')).toMatch(/readOnlyRootFileSystem: not a field of SecurityContext/);
  });
});

describe('the manifests against the service', () => {
  describe.each(workloads)('$name', (workload) => {
    const { container } = workload;
    const env = effectiveEnv(container);

    it('sets only variables the service reads, with values its configuration accepts', () => {
      const unread = envNames(container).filter((name) => !ENV_KEYS.includes(name));
      expect(unread, `not read by src/server/config.ts: ${unread.join(', ')}`).toEqual([]);
      expect(() => loadConfig({ ...env, API_KEYS: TEST_KEY })).not.toThrow();
      // The Secret template's placeholder is refused, so an unedited Secret cannot run with a published key.
      expect(() => loadConfig(env)).toThrow(/API_KEYS/);
    });

    it('listens on all interfaces, on the port the container declares', () => {
      const config = loadConfig({ ...env, API_KEYS: TEST_KEY });
      expect(config.host).toBe('0.0.0.0');
      expect(container.ports.map((p: Obj) => p.containerPort)).toEqual([config.port]);
    });

    it('probes routes the service has, on its port, without an API key: readiness turns 503 on shutdown, liveness does not', async () => {
      const port = container.ports[0];
      for (const probe of [container.readinessProbe, container.livenessProbe]) {
        expect([port.containerPort, port.name]).toContain(probe.httpGet.port);
      }
      const app = await serviceApp();
      const status = async (url: string) => (await app.inject({ method: 'GET', url })).statusCode;
      expect(await status(container.readinessProbe.httpGet.path)).toBe(200);
      expect(await status(container.livenessProbe.httpGet.path)).toBe(200);
      app.beginShutdown();
      expect(await status(container.readinessProbe.httpGet.path)).toBe(503);
      expect(await status(container.livenessProbe.httpGet.path)).toBe(200);
    });

    it('gives the graceful shutdown more time than the drain plus the in-flight deadline', () => {
      expect(deadline, 'src/server/main.ts no longer declares SHUTDOWN_DEADLINE_MS; update this test to where the deadline lives').not.toBeNull();
      const { shutdownDrainMs } = loadConfig({ ...env, API_KEYS: TEST_KEY });
      expect(workload.graceSeconds * 1000).toBeGreaterThan(shutdownDrainMs + Number(deadline![1]!.replace(/_/g, '')));
    });

    it('runs as the image’s non-root user with a read-only root filesystem, writing only to emptyDir volumes', () => {
      expect(imageUser, 'the Dockerfile’s USER must be numeric for runAsNonRoot to be verifiable').not.toBeNull();
      const security = { ...workload.podSecurity, ...container.securityContext };
      expect(security.runAsNonRoot).toBe(true);
      expect(security.runAsUser).toBe(Number(imageUser![1]));
      expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
      expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
      expect(container.securityContext.capabilities.drop).toContain('ALL');
      expect(security.seccompProfile?.type).toBe('RuntimeDefault'); // with the lines above: what Pod Security's "restricted" profile asks
      const mounted = (container.volumeMounts ?? []).map((m: Obj) => m.name);
      expect(workload.volumes.map((v) => v.name).sort()).toEqual([...mounted].sort());
      for (const volume of workload.volumes) expect(Object.keys(volume).sort(), `volume ${volume.name}`).toEqual(['emptyDir', 'name']);
    });

    it('requests CPU and memory and limits memory above its request', () => {
      const { requests, limits } = container.resources;
      expect(requests.cpu).toBeDefined();
      expect(quantityMiB(limits.memory)).toBeGreaterThan(quantityMiB(requests.memory));
    });
  });

  it('sends traffic only to routes the service has (probes, and Prometheus when scraping is on)', () => {
    const paths = workloads.flatMap(({ container }) => [container.readinessProbe.httpGet.path, container.livenessProbe.httpGet.path]);
    const scrape = [deployment.spec.template.metadata.annotations, runtime.spec.annotations].filter((a) => a?.['prometheus.io/scrape'] === 'true');
    paths.push(...scrape.map((a) => a['prometheus.io/path'] ?? '/metrics'));
    expect(paths.filter((url) => !hasGet(url))).toEqual([]);
  });

  it.runIf(hasGet('/metrics'))('tells Prometheus to scrape /metrics now that the service serves it', () => {
    for (const annotations of [deployment.spec.template.metadata.annotations, runtime.spec.annotations]) {
      expect(annotations?.['prometheus.io/scrape'], 'uncomment the prometheus.io annotations').toBe('true');
      expect(annotations['prometheus.io/port']).toBe(String(pod.containers[0].ports[0].containerPort));
    }
  });

  it('lists every variable it comments out as planned, and leaves none commented out that the service now reads', () => {
    const liveNames = ({ object }: Manifest): string[] => {
      const containers: Obj[] = object.spec?.template?.spec?.containers ?? object.spec?.containers ?? [];
      return [...Object.keys(object.data ?? {}), ...Object.keys(object.stringData ?? {}), ...containers.flatMap((c) => (c.env ?? []).map((e: Obj) => e.name as string))];
    };
    for (const [file, text] of texts) {
      const live = new Set(manifests.filter((m) => m.file === file).flatMap(liveNames));
      // `# NAME: value` (ConfigMap and Secret data) and `# - name: NAME` (a container's env).
      const commented = [...text.matchAll(/^\s*#\s*(?:-\s*name:\s*([A-Z][A-Z0-9_]+)\s*$|([A-Z][A-Z0-9_]+):(?:\s|$))/gm)].map((m) => (m[1] ?? m[2])!).filter((name) => !live.has(name));
      for (const name of commented) {
        expect(ENV_KEYS.includes(name), `${file}: ${name} is read by the service now; uncomment it`).toBe(false);
        expect(PLANNED_ENV, `${file}: ${name} is neither read by the service nor planned (a typo?)`).toContain(name);
      }
    }
  });
});

describe('the Kubernetes objects together', () => {
  const podLabels = deployment.spec.template.metadata.labels;

  it('select the Deployment’s pods from the Service, the PDB and the Deployment itself', () => {
    for (const selector of [deployment.spec.selector.matchLabels, one('Service').spec.selector, one('PodDisruptionBudget').spec.selector.matchLabels]) {
      expect(podLabels).toMatchObject(selector);
    }
    const ports = pod.containers[0].ports;
    for (const port of one('Service').spec.ports) expect(ports.some((p: Obj) => p.name === port.targetPort || p.containerPort === port.targetPort)).toBe(true);
  });

  it('scale the Deployment on CPU, leave it no replica count of its own, and keep a replica through a drain', () => {
    const hpa = one('HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.metrics.map((m: Obj) => m.resource?.name)).toContain('cpu');
    expect(deployment.spec.replicas).toBeUndefined();
    expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
    expect(hpa.spec.minReplicas).toBeGreaterThan(one('PodDisruptionBudget').spec.maxUnavailable);
  });

  it('read their environment from the ConfigMap and the Secret the manifests define', () => {
    const sources = pod.containers[0].envFrom.map((s: Obj) => s.configMapRef?.name ?? s.secretRef?.name);
    expect(sources.sort()).toEqual([...configMaps.keys(), ...secrets.keys()].sort());
  });
});

describe('the KServe objects together', () => {
  it('bind the InferenceService to the runtime: its model format, the V2 protocol, the runtime’s container name', () => {
    const model = isvc.spec.predictor.model;
    expect(model.runtime).toBe(runtime.metadata.name);
    expect(runtime.spec.supportedModelFormats.map((f: Obj) => f.name)).toContain(model.modelFormat.name);
    expect(model.protocolVersion).toBe('v2');
    expect(runtime.spec.protocolVersions).toContain('v2');
    expect(runtime.spec.containers.map((c: Obj) => c.name)).toContain('kserve-container');
  });

  it('name the InferenceService after the model (lead-conversion) and run the same image as the Deployment', () => {
    expect(isvc.metadata.name).toBe('lead-conversion');
    expect(workloads[1]!.container.image).toBe(pod.containers[0].image);
  });

  it('run with the same settings as the Deployment', () => {
    const settings = effectiveEnv(workloads[1]!.container);
    const deploymentSettings = effectiveEnv(pod.containers[0]);
    for (const key of Object.keys(configMaps.get('leadscore-config')!)) expect(settings[key], key).toBe(deploymentSettings[key]);
    expect(settings.API_KEYS).toBe(deploymentSettings.API_KEYS);
  });

  it('keep to what Knative accepts: one unnamed (or http1/h2c) port, no PORT in env or from a ConfigMap', () => {
    const container = workloads[1]!.container;
    expect(container.ports).toHaveLength(1);
    expect([undefined, 'http1', 'h2c']).toContain(container.ports[0].name);
    expect((container.env ?? []).map((e: Obj) => e.name)).not.toContain('PORT');
    expect(container.envFrom).toBeUndefined(); // a ConfigMap's PORT would slip past Knative's check
  });

  it.runIf(hasGet('/v2/health/ready'))('answer V2 requests for the InferenceService’s name', async () => {
    const response = await routesApp.inject({ method: 'GET', url: `/v2/models/${isvc.metadata.name}/ready`, headers: { authorization: `Bearer ${TEST_KEY}` } });
    expect(response.statusCode).toBe(200);
  });
});
