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
 * The champion, swapped as one reference. A handler reads `champion` once and scores the whole
 * request with it, so no response mixes versions and requests in flight finish on the model
 * they started with.
 */
export class ModelHolder {
  #champion: ServingModel;

  constructor(champion: ServingModel) {
    this.#champion = champion;
  }

  get champion(): ServingModel {
    return this.#champion;
  }

  replace(next: ServingModel): ServingModel {
    const previous = this.#champion;
    this.#champion = next;
    return previous;
  }
}
