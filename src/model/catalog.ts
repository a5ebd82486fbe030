// The models folder: every artifact in it, which one is the default, and changing the default.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { ArtifactError, POINTER_FILE, readArtifact, resolveDefaultArtifact, writeFileAtomically, type Artifact, type ArtifactPointer } from './artifact.js';

export interface CatalogEntry {
  file: string;
  artifact: Artifact;
}

export interface Catalog {
  /** Verified artifacts, newest first. */
  artifacts: CatalogEntry[];
  /** Files that look like artifacts but fail verification: listed, never silently skipped. */
  refused: { file: string; reason: string }[];
  /** The file the folder's pointer names, if it has one. */
  defaultFile: string | null;
}

const ARTIFACT_FILE = /^lead-conversion-.+\.json$/;

/** Reads every artifact of a models folder, or the one file MODEL_PATH names. */
export async function readCatalog(location: string): Promise<Catalog> {
  if (location.endsWith('.json') && path.basename(location) !== POINTER_FILE) {
    return { artifacts: [{ file: location, artifact: await readArtifact(location) }], refused: [], defaultFile: location };
  }
  const dir = path.basename(location) === POINTER_FILE ? path.dirname(location) : location;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw new ArtifactError(dir, `cannot list the models folder (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const artifacts: CatalogEntry[] = [];
  const refused: Catalog['refused'] = [];
  for (const name of names.filter((n) => ARTIFACT_FILE.test(n)).sort()) {
    const file = path.join(dir, name);
    try {
      artifacts.push({ file, artifact: await readArtifact(file) });
    } catch (error) {
      refused.push({ file, reason: (error as Error).message });
    }
  }
  artifacts.sort((a, b) => (a.artifact.created_at < b.artifact.created_at ? 1 : a.artifact.created_at > b.artifact.created_at ? -1 : 0));
  const defaultFile = (await resolveDefaultArtifact(dir).catch(() => null))?.file ?? null;
  return { artifacts, refused, defaultFile };
}

/** The verified artifact of `version` in a models folder. */
export async function findArtifact(location: string, version: string): Promise<CatalogEntry> {
  const catalog = await readCatalog(location);
  const entry = catalog.artifacts.find((candidate) => candidate.artifact.model_version === version);
  if (!entry) {
    const known = catalog.artifacts.map((candidate) => candidate.artifact.model_version);
    throw new ArtifactError(location, `no verified artifact of version "${version}" (found: ${known.join(', ') || 'none'})`);
  }
  return entry;
}

/** Makes `version` the folder's default by rewriting its pointer atomically; readers see the old pointer or the new one. */
export async function promoteArtifact(dir: string, version: string): Promise<CatalogEntry> {
  if (dir.endsWith('.json')) throw new ArtifactError(dir, 'MODEL_PATH names one artifact file; promotion needs a models folder with a latest.json pointer');
  const entry = await findArtifact(dir, version);
  const pointer: ArtifactPointer = { artifact: path.basename(entry.file), model_version: version, sha256: entry.artifact.sha256 };
  await writeFileAtomically(path.join(dir, POINTER_FILE), `${JSON.stringify(pointer, null, 2)}\n`);
  return entry;
}
