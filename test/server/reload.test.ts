// Changing the model while the service runs: reload, refusal of a bad artifact, promotion, the catalog.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadArtifact, saveArtifact } from '../../src/model/artifact.js';
import { findArtifact } from '../../src/model/catalog.js';
import { buildApp, servingModel } from '../../src/server/app.js';
import { ModelHolder } from '../../src/server/models.js';
import { trainedFixture, variantArtifact } from '../model/helpers.js';
import { keyFor, testConfig, validLead } from './helper.js';

const ADMIN = 'admin-key-0123456789abcdef';
const READER = 'reader-key-0123456789abcd';
const admin = { authorization: `Bearer ${ADMIN}` };

async function modelsFolder() {
  const dir = mkdtempSync(path.join(tmpdir(), 'leadscore-reload-'));
  const first = trainedFixture().outcome.artifact;
  const second = variantArtifact('b');
  await saveArtifact(second, dir);
  await saveArtifact(first, dir); // the first is the default
  return { dir, first, second };
}

let closeLater: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closeLater.map((close) => close()));
  closeLater = [];
});

async function serve(dir: string, apiKeys = [keyFor(ADMIN, ['admin', 'score', 'read']), keyFor(READER, ['read', 'score'])]) {
  const { artifact } = await loadArtifact(dir);
  const models = new ModelHolder(servingModel(artifact), () => loadArtifact(dir), (version) => findArtifact(dir, version));
  const app = await buildApp({ config: testConfig({ apiKeys, modelPath: dir }), model: models, logger: pino({ level: 'silent' }) });
  closeLater.push(() => app.close());
  const version = async () => (await app.inject({ method: 'POST', url: '/predict', payload: validLead(), headers: admin })).json().model_version as string;
  return { app, models, version };
}

describe('hot reload', () => {
  it('swaps in the artifact latest.json now names, and answers with the new version', async () => {
    const { dir, first, second } = await modelsFolder();
    const { app, version } = await serve(dir);
    expect(await version()).toBe(first.model_version);
    await saveArtifact(second, dir);
    const response = await app.inject({ method: 'POST', url: '/admin/model/reload', headers: admin });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ model_version: second.model_version, previous_version: first.model_version, processes: 1 });
    expect(await version()).toBe(second.model_version);
    expect((await app.inject({ url: '/health' })).json().model.version).toBe(second.model_version);
  });

  it('refuses a corrupt or tampered artifact and keeps serving the old model', async () => {
    const { dir, first, second } = await modelsFolder();
    const { app, models, version } = await serve(dir);
    const file = await saveArtifact(second, dir);
    writeFileSync(file, readFileSync(file, 'utf8').replace(`"intercept": ${second.model.intercept}`, `"intercept": ${second.model.intercept + 1}`));
    const tampered = await app.inject({ method: 'POST', url: '/admin/model/reload', headers: admin });
    expect(tampered.statusCode).toBe(422);
    expect(tampered.json().message).toMatch(/^the model was not reloaded in 1 of 1 process\(es\): .*content does not match its sha256.*; still serving /);
    writeFileSync(file, '{"format": "leadscore.lead-conv');
    const corrupt = await app.inject({ method: 'POST', url: '/admin/model/reload', headers: admin });
    expect(corrupt.statusCode).toBe(422);
    expect(corrupt.json().message).toMatch(/not valid JSON/);
    expect(await version()).toBe(first.model_version);
    expect(models.counts).toEqual({ reloads: 0, failedReloads: 2 });
  });

  it('is an admin action: 403 without the role, and refused outright when no keys are configured', async () => {
    const { dir } = await modelsFolder();
    const { app } = await serve(dir);
    const reader = await app.inject({ method: 'POST', url: '/admin/model/reload', headers: { authorization: `Bearer ${READER}` } });
    expect(reader.statusCode).toBe(403);
    const open = await serve(dir, []);
    const anonymous = await open.app.inject({ method: 'POST', url: '/admin/model/reload' });
    expect(anonymous.statusCode).toBe(403);
    expect(anonymous.json().message).toBe('admin routes need API_KEYS with a key holding the admin role');
  });
});

describe('models folder', () => {
  it('lists every artifact with its metrics, which is served and which is the default', async () => {
    const { dir, first, second } = await modelsFolder();
    writeFileSync(path.join(dir, 'lead-conversion-broken.json'), '{}');
    const { app } = await serve(dir);
    const body = (await app.inject({ url: '/models', headers: admin })).json();
    expect(body.models.map((m: { model_version: string; champion: boolean; default: boolean }) => [m.model_version, m.champion, m.default])).toEqual([
      [second.model_version, false, false],
      [first.model_version, true, true],
    ]);
    expect(body.models[1].metrics.holdout.rocAuc).toBe(first.metrics.holdout.rocAuc);
    expect(body.refused).toEqual([{ file: 'lead-conversion-broken.json', reason: expect.stringMatching(/not a lead-conversion model/) }]);
  });

  it('promotes a version: latest.json rewritten, every process reloaded', async () => {
    const { dir, second } = await modelsFolder();
    const { app, version } = await serve(dir);
    const response = await app.inject({ method: 'POST', url: '/admin/model/promote', payload: { version: second.model_version }, headers: admin });
    expect(response.statusCode).toBe(200);
    expect(response.json().model_version).toBe(second.model_version);
    expect(JSON.parse(readFileSync(path.join(dir, 'latest.json'), 'utf8'))).toMatchObject({ model_version: second.model_version, sha256: second.sha256 });
    expect(await version()).toBe(second.model_version);
    const unknown = await app.inject({ method: 'POST', url: '/admin/model/promote', payload: { version: 'nope' }, headers: admin });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().message).toMatch(/no verified artifact of version "nope" \(found: /);
  });

  it('sets a challenger, but not the champion itself, which scoring would skip while /models listed it', async () => {
    const { dir, first, second } = await modelsFolder();
    const { app } = await serve(dir);
    const set = (version: string | null) => app.inject({ method: 'POST', url: '/admin/model/challenger', payload: { version }, headers: admin });
    const same = await set(first.model_version);
    expect(same.statusCode).toBe(422);
    expect(same.json().message).toBe(`version ${first.model_version} is the champion; a challenger must be another version of the models folder`);
    expect(app.models.challenger).toBeNull();
    expect((await set(second.model_version)).json()).toMatchObject({ model_version: second.model_version, previous_version: 'none' });
    expect((await set(null)).json()).toMatchObject({ model_version: 'none', previous_version: second.model_version });
    // Promoted, the challenger is the champion: it stops being the challenger rather than be listed as both.
    await set(second.model_version);
    expect((await app.inject({ method: 'POST', url: '/admin/model/promote', payload: { version: second.model_version }, headers: admin })).statusCode).toBe(200);
    expect(app.models.challenger).toBeNull();
    const listed = (await app.inject({ url: '/models', headers: admin })).json().models.find((m: { model_version: string }) => m.model_version === second.model_version);
    expect(listed).toMatchObject({ champion: true, challenger: false });
    // As CHALLENGER still naming it at the next start would ask: no challenger, not an error.
    expect(await app.models.apply({ kind: 'challenger', version: second.model_version })).toMatchObject({ ok: true, model_version: 'none' });
    expect(app.models.challenger).toBeNull();
  });
});

describe('model changes in one process', () => {
  it('apply one at a time in the order asked: "no challenger" asked while a challenger loads is not undone by the load', async () => {
    const { first, second } = await modelsFolder();
    let finishLoading!: () => void;
    const loading = new Promise<void>((resolve) => (finishLoading = resolve));
    const models = new ModelHolder(servingModel(first), undefined, async (version) => {
      await loading; // a slow disk
      return { file: `${version}.json`, artifact: second };
    });
    const set = models.apply({ kind: 'challenger', version: second.model_version });
    const cleared = models.apply({ kind: 'challenger', version: null });
    finishLoading();
    expect(await set).toMatchObject({ ok: true, model_version: second.model_version, previous_version: 'none' });
    expect(await cleared).toMatchObject({ ok: true, model_version: 'none', previous_version: second.model_version });
    expect(models.challenger).toBeNull();
  });
});
