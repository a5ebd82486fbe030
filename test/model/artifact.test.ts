import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArtifactError, canonicalJson, loadArtifact, publishArtifact, readArtifact, saveArtifact, verifyArtifact } from '../../src/model/artifact.js';
import { Scorer } from '../../src/model/scorer.js';
import { trainedFixture } from './helpers.js';

const tempDir = () => mkdtempSync(path.join(tmpdir(), 'leadscore-artifact-'));

describe('artifact', () => {
  it('saves atomically, points the default at it, and reloads to the same scores', async () => {
    const { leads, outcome } = trainedFixture();
    const dir = tempDir();
    const file = await saveArtifact(outcome.artifact, dir);
    expect(path.basename(file)).toBe(`lead-conversion-${outcome.artifact.model_version}.json`);
    expect(readdirSync(dir).sort()).toEqual(['latest.json', path.basename(file)].sort()); // no temp files left behind
    const loaded = await loadArtifact(dir);
    expect(loaded.file).toBe(file);
    const before = new Scorer(outcome.artifact);
    const after = new Scorer(loaded.artifact);
    for (const lead of leads.slice(0, 200)) expect(after.probability(lead)).toBe(before.probability(lead));
  });

  it('detects a single changed byte', async () => {
    const { outcome } = trainedFixture();
    const dir = tempDir();
    const file = await saveArtifact(outcome.artifact, dir);
    const text = readFileSync(file, 'utf8');
    const at = text.indexOf('"intercept": ') + '"intercept": '.length + 3; // a digit of the intercept
    const digit = text[at]!;
    writeFileSync(file, text.slice(0, at) + (digit === '9' ? '8' : String(Number(digit) + 1)) + text.slice(at + 1));
    await expect(readArtifact(file)).rejects.toThrow(/content does not match its sha256 .*changed after training/);
  });

  it('refuses missing, corrupt, wrong-format and future-version files by name', async () => {
    const { outcome } = trainedFixture();
    const dir = tempDir();
    const write = (name: string, content: string) => {
      writeFileSync(path.join(dir, name), content);
      return path.join(dir, name);
    };
    await expect(readArtifact(path.join(dir, 'absent.json'))).rejects.toThrow(`${path.join(dir, 'absent.json')}: no such file`);
    await expect(readArtifact(write('cut.json', JSON.stringify(outcome.artifact).slice(0, 500)))).rejects.toThrow(/cut.json: not valid JSON/);
    await expect(readArtifact(write('other.json', JSON.stringify({ name: 'PCA' })))).rejects.toThrow(/other.json: not a lead-conversion model: format is undefined/);
    await expect(readArtifact(write('v3.json', JSON.stringify({ ...outcome.artifact, format_version: 3 })))).rejects.toThrow(/format_version 3 cannot be read; this build reads version 2$/);
    await expect(readArtifact(write('v1.json', JSON.stringify({ ...outcome.artifact, format_version: 1 })))).rejects.toThrow(/v1.json: format_version 1 cannot be read; .*retrain it with npm run train/);
    const { reference: _reference, ...withoutReference } = outcome.artifact;
    await expect(readArtifact(write('noref.json', JSON.stringify(withoutReference)))).rejects.toThrow(/noref.json: has no training-distribution reference, .*retrain it with npm run train/);
    const { model, ...rest } = outcome.artifact;
    await expect(readArtifact(write('noweights.json', JSON.stringify(rest)))).rejects.toThrow(ArtifactError);
  });

  it('catches weights that do not match the pipeline even with a valid hash', () => {
    const { outcome } = trainedFixture();
    const { sha256, ...body } = outcome.artifact;
    const weights = { ...body.model.weights, 'origin=extra': 1 };
    const tampered = { ...body, model: { ...body.model, weights } };
    const resealed = { ...tampered, sha256: createHash('sha256').update(canonicalJson(tampered)).digest('hex') };
    expect(() => verifyArtifact(resealed)).toThrow(/weights do not match the pipeline .*unknown: origin=extra/);
  });

  it('checks the pointer: its sha256 must be the artifact’s, and it must be an object', async () => {
    const { outcome } = trainedFixture();
    const dir = tempDir();
    const file = await saveArtifact(outcome.artifact, dir);
    const pointerFile = path.join(dir, 'latest.json');
    const pointer = JSON.parse(readFileSync(pointerFile, 'utf8'));
    expect(pointer).toEqual({ artifact: path.basename(file), model_version: outcome.artifact.model_version, sha256: outcome.artifact.sha256 });
    writeFileSync(pointerFile, JSON.stringify({ ...pointer, sha256: 'a'.repeat(64) }));
    await expect(loadArtifact(dir)).rejects.toThrow(`${pointerFile}: names ${path.basename(file)} with sha256 aaaaaaaaaaaa…, but that file's sha256 is ${outcome.artifact.sha256.slice(0, 12)}…`);
    await expect(loadArtifact(pointerFile)).rejects.toThrow(/the pointer and the artifact do not belong together/);
    const { sha256: _sha, ...withoutHash } = pointer;
    writeFileSync(pointerFile, JSON.stringify(withoutHash)); // an older pointer without a hash still works
    await expect(loadArtifact(dir)).resolves.toMatchObject({ file });
    for (const [content, said] of [['null', 'null'], ['[]', 'an array'], ['"x.json"', 'string'], ['7', 'number']]) {
      writeFileSync(pointerFile, content!);
      await expect(loadArtifact(dir)).rejects.toThrow(`${pointerFile}: the default-model pointer must be a JSON object naming an artifact, got ${said}`);
    }
    writeFileSync(pointerFile, JSON.stringify({ ...pointer, sha256: 'not-a-hash' }));
    await expect(loadArtifact(dir)).rejects.toThrow(`${pointerFile}: the pointer's sha256 must be 64 lower-case hex digits`);
    writeFileSync(pointerFile, JSON.stringify({ artifact: '../elsewhere.json' }));
    await expect(loadArtifact(dir)).rejects.toThrow(`${pointerFile}: the pointer must name an artifact file in the same folder`);
  });

  it('publishes all or nothing: a failed write leaves the old default and no stray file', async () => {
    const { outcome } = trainedFixture();
    const dir = tempDir();
    writeFileSync(path.join(dir, 'latest.json'), '{"artifact":"lead-conversion-old.json"}\n');
    writeFileSync(path.join(dir, 'lead-conversion-old.json'), 'old model');
    const before = readdirSync(dir).sort();
    const failing = async (file: string, content: string | Uint8Array) => {
      if (file.includes('.report.html')) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      writeFileSync(file, content);
    };
    const companions = [{ name: `lead-conversion-${outcome.artifact.model_version}.report.html`, content: '<!doctype html>' }];
    await expect(publishArtifact(outcome.artifact, dir, { companions, writeFile: failing })).rejects.toThrow(/ENOSPC/);
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(readFileSync(path.join(dir, 'latest.json'), 'utf8')).toBe('{"artifact":"lead-conversion-old.json"}\n');
    // the same with a working writer moves the pointer, and leaves exactly the three new files beside the old ones
    const file = await publishArtifact(outcome.artifact, dir, { companions });
    expect(readdirSync(dir).sort()).toEqual([...before, path.basename(file), companions[0]!.name].sort());
    expect((await loadArtifact(dir)).file).toBe(file);
  });

  it('hashes canonical JSON, independent of key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: 3 } })).toBe('{"a":{"c":3,"d":[2,{"y":2,"z":1}]},"b":1}');
  });
});
