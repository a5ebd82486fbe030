// A small model trained on generated leads, shared by the model and server tests.
import type { LabelledLead } from '../../src/features/lead.js';
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
