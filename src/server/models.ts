// The model the service scores with, held so it can be replaced while requests run.
import type { Artifact } from '../model/artifact.js';
import { Scorer } from '../model/scorer.js';
import { responseWriter } from './serialize.js';

/** An artifact with everything built from it once at load time: the scorer and its response writer. */
export interface ServingModel {
  readonly artifact: Artifact;
  readonly scorer: Scorer;
  readonly write: ReturnType<typeof responseWriter>;
}

export function servingModel(artifact: Artifact): ServingModel {
  const scorer = new Scorer(artifact);
  return { artifact, scorer, write: responseWriter(scorer) };
}

/**
 * A queue for model changes: each runs once the one before it has ended, succeeded or not. A
 * process's holder and a cluster's primary both take changes this way, in the order asked.
 */
export function oneAtATime(): <T>(work: () => Promise<T>) => Promise<T> {
  let last: Promise<unknown> = Promise.resolve();
  return (work) => {
    const done = last.then(work);
    last = done.catch(() => undefined);
    return done;
  };
}

/** Reads and verifies the artifact MODEL_PATH names now (following latest.json), exactly as at start-up. */
export type ArtifactLoader = () => Promise<{ file: string; artifact: Artifact }>;
/** Reads and verifies one version of the models folder. */
export type VersionLoader = (version: string) => Promise<{ file: string; artifact: Artifact }>;

/**
 * What every process of the service is told to do with its models. `champion` is the primary's
 * own: it gives a replacement worker the version its siblings serve (see superviseWorkers).
 */
export type ModelChange = { kind: 'reload' } | { kind: 'challenger'; version: string | null } | { kind: 'champion'; version: string };

export interface ReloadOutcome {
  pid: number;
  ok: boolean;
  model_version: string;
  previous_version: string;
  file?: string;
  error?: string;
}

/**
 * The champion, swapped as one reference. A handler reads `champion` once and scores the whole
 * request with it, so no response mixes versions and requests in flight finish on the model
 * they started with.
 */
export class ModelHolder {
  #champion: ServingModel;
  #challenger: ServingModel | null = null;
  readonly counts = { reloads: 0, failedReloads: 0 };
  readonly #listeners: ((outcome: ReloadOutcome, champion: ServingModel) => void)[] = [];
  readonly #oneAtATime = oneAtATime();

  constructor(
    champion: ServingModel,
    private readonly load?: ArtifactLoader,
    private readonly loadVersion?: VersionLoader,
  ) {
    this.#champion = champion;
  }

  get champion(): ServingModel {
    return this.#champion;
  }

  /** Scored beside the champion on every lead, its scores stored and never returned; null for none. */
  get challenger(): ServingModel | null {
    return this.#challenger;
  }

  setChallenger(next: ServingModel | null): void {
    this.#challenger = next;
  }

  replace(next: ServingModel): ServingModel {
    const previous = this.#champion;
    this.#champion = next;
    return previous;
  }

  /**
   * Applies a change: a reload of the champion, or a new (or no) challenger. Changes apply one at a
   * time in the order asked: "no challenger" asked while a challenger still loads must not be
   * undone when the load finishes.
   */
  apply(change: ModelChange): Promise<ReloadOutcome> {
    return this.#oneAtATime(() => this.#apply(change));
  }

  async #apply(change: ModelChange): Promise<ReloadOutcome> {
    if (change.kind === 'reload') return this.reload();
    if (change.kind === 'champion') {
      return this.#swap(async () => {
        if (!this.loadVersion) throw new Error('this service was started without a models folder to load a version from');
        return this.loadVersion(change.version);
      });
    }
    const previous = this.#challenger?.artifact.model_version ?? 'none';
    // The champion's own version scores nothing in the shadow (scoring skips it): no challenger.
    if (change.version === null || change.version === this.#champion.artifact.model_version) {
      this.#challenger = null;
      return { pid: process.pid, ok: true, model_version: 'none', previous_version: previous };
    }
    try {
      if (!this.loadVersion) throw new Error('this service was started without a models folder to load a challenger from');
      const { file, artifact } = await this.loadVersion(change.version);
      this.#challenger = servingModel(artifact);
      return { pid: process.pid, ok: true, model_version: artifact.model_version, previous_version: previous, file };
    } catch (error) {
      return { pid: process.pid, ok: false, model_version: previous, previous_version: previous, error: (error as Error).message };
    }
  }

  /** Called after every reload, successful or not (metrics count them and follow the served model). */
  onReload(listener: (outcome: ReloadOutcome, champion: ServingModel) => void): void {
    this.#listeners.push(listener);
  }

  /** Loads, verifies and builds the new model before swapping; on any failure the old one keeps serving. */
  async reload(): Promise<ReloadOutcome> {
    return this.#swap(async () => {
      if (!this.load) throw new Error('this service was started without a model location to reload from');
      return this.load();
    });
  }

  /** A challenger promoted to champion has nothing left to be compared with: it stops being the challenger. */
  #endChallengerIfChampion(): void {
    if (this.#challenger?.artifact.model_version === this.#champion.artifact.model_version) this.#challenger = null;
  }

  /** Swaps in what `read` gives, then tells the listeners, whether it worked or not. */
  async #swap(read: ArtifactLoader): Promise<ReloadOutcome> {
    const outcome = await this.#load(read);
    for (const listener of this.#listeners) listener(outcome, this.#champion);
    return outcome;
  }

  async #load(read: ArtifactLoader): Promise<ReloadOutcome> {
    const previous = this.#champion.artifact.model_version;
    try {
      const { file, artifact } = await read();
      this.replace(servingModel(artifact));
      this.#endChallengerIfChampion();
      this.counts.reloads++;
      return { pid: process.pid, ok: true, model_version: artifact.model_version, previous_version: previous, file };
    } catch (error) {
      this.counts.failedReloads++;
      return { pid: process.pid, ok: false, model_version: previous, previous_version: previous, error: (error as Error).message };
    }
  }
}
