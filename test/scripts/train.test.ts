import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { train, TrainError } from '../../scripts/train.js';
import { loadArtifact } from '../../src/model/artifact.js';
import { writeGeneratedOlist } from '../fixtures/olist.js';

const run = promisify(execFile);
const quiet = { stdout: () => {}, stderr: () => {} };
let data: string;

/** An artifact folder whose default is an earlier model, and a snapshot of it to compare with. */
async function publishedFolder() {
  const out = mkdtempSync(path.join(tmpdir(), 'leadscore-train-'));
  writeFileSync(path.join(out, 'lead-conversion-earlier.json'), '{"an":"earlier model"}\n');
  writeFileSync(path.join(out, 'latest.json'), '{"artifact":"lead-conversion-earlier.json"}\n');
  const snapshot = () => ({ files: readdirSync(out).sort(), pointer: readFileSync(path.join(out, 'latest.json'), 'utf8') });
  return { out, before: snapshot(), snapshot };
}

beforeAll(() => {
  data = writeGeneratedOlist(1200, 6).dir;
});

describe('npm run train', () => {
  it('writes the artifact and its report, then moves the pointer: the command as the image ships it', async () => {
    const { out, before } = await publishedFolder();
    // The bundled command, whose report chunk once failed to load on every run that got that far.
    const { stderr } = await run(process.execPath, ['dist/cli/train.js', '--data', data, '--out', out, '--holdout-from', '2018-04-01']);
    const file = path.join(out, /wrote \S+\/(lead-conversion-[^ ]+\.json) and /.exec(stderr)![1]!);
    const files = readdirSync(out).sort();
    expect(files).toEqual([...before.files, path.basename(file), path.basename(file).replace(/\.json$/, '.report.html')].sort());
    expect(files.filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect((await loadArtifact(out)).file).toBe(file);
  });

  it('fails the quality gate before writing anything: the pointer stays, no temporary file is left', async () => {
    const { out, before, snapshot } = await publishedFolder();
    await expect(train(['--data', data, '--out', out, '--min-auc', '0.99'], quiet)).rejects.toThrow(/holdout ROC AUC 0\.\d+ is below the floor 0.99; nothing was written and the default model is unchanged/);
    expect(snapshot()).toEqual(before);
  });

  it('leaves the folder as it was when a write fails half-way', async () => {
    const { out, before, snapshot } = await publishedFolder();
    const writeFile = async (file: string, content: string | Uint8Array) => {
      if (file.includes('.report.html')) throw new Error('ENOSPC: no space left on device, write');
      writeFileSync(file, content);
    };
    await expect(train(['--data', data, '--out', out], { ...quiet, writeFile })).rejects.toThrow(/ENOSPC/);
    expect(snapshot()).toEqual(before);
  });

  it('refuses bad options by name', async () => {
    await expect(train(['--data', data, '--recalibrate', 'yearly'], quiet)).rejects.toThrow(new TrainError('--recalibrate must be one of last-month, none, got "yearly"'));
    await expect(train(['--data', data, '--min-auc', 'high'], quiet)).rejects.toThrow(/--min-auc must be a number from 0 to 1, got "high"/);
    await expect(train(['--data', data, '--until', '2018-02-30'], quiet)).rejects.toThrow(/--until must be a date YYYY-MM-DD/);
    await expect(train(['--data', data, '--until', '2018-03-01'], quiet)).rejects.toThrow(/--until \(2018-03-01\) must come after --holdout-from \(2018-04-01\)/);
  });

  it('exits 1 with one line when the gate fails', async () => {
    const { out, before, snapshot } = await publishedFolder();
    const failure = await run(process.execPath, ['dist/cli/train.js', '--data', data, '--out', out, '--min-auc', '0.99']).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toMatch(/^train: holdout ROC AUC .* below the floor 0.99/m);
    expect(snapshot()).toEqual(before);
  });
});
