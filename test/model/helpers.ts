// A small model trained on generated leads, shared by the model and server tests.
import type { LabelledLead } from '../../src/features/lead.js';
import { sealArtifact, type Artifact } from '../../src/model/artifact.js';
import { trainLeadModel, type TrainingOutcome } from '../../src/model/training.js';
import { generateLeads } from '../fixtures/olist.js';

let cached: { leads: LabelledLead[]; outcome: TrainingOutcome } | undefined;

export function trainedFixture(): { leads: LabelledLead[]; outcome: TrainingOutcome } {
  if (!cached) {
    const leads = generateLeads(3000, 5);
    const outcome = trainLeadModel(
      { leads, files: [{ file: 'generated.csv', sha256: '0'.repeat(64), rows: leads.length }], rejectedRows: 0 },
      { holdoutFrom: '2018-04-01', now: new Date('2026-01-02T03:04:05Z') },
    );
    cached = { leads, outcome };
  }
  return cached;
}

/** Another valid artifact: the fixture's with its intercept moved, a later date and its own version, sealed anew. */
export function variantArtifact(suffix: string, interceptShift = 0.5): Artifact {
  const { sha256: _sha256, ...body } = trainedFixture().outcome.artifact;
  return sealArtifact({
    ...body,
    model_version: `${body.model_version}-${suffix}`,
    created_at: new Date(Date.parse(body.created_at) + 86_400_000).toISOString(),
    model: { ...body.model, intercept: body.model.intercept + interceptShift },
  });
}
