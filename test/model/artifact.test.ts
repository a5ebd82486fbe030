import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArtifactError, canonicalJson, loadArtifact, readArtifact, saveArtifact, verifyArtifact } from '../../src/model/artifact.js';
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
    await expect(readArtifact(write('v2.json', JSON.stringify({ ...outcome.artifact, format_version: 2 })))).rejects.toThrow(/format_version 2 cannot be read; this build reads version 1/);
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

  it('hashes canonical JSON, independent of key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: 3 } })).toBe('{"a":{"c":3,"d":[2,{"y":2,"z":1}]},"b":1}');
  });
});
