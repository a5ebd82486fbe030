// JSON for scoring responses, assembled from fragments prepared when the model loads.
import type { Contribution, LeadScore, Scorer } from '../model/scorer.js';
import { OUTPUT_TENSORS, V2_MODEL_NAME, type OutputName } from './inference.js';

export interface ScoredLead extends LeadScore {
  mql_id: string;
}

export interface Inference {
  id: string;
  outputs: readonly OutputName[];
  scores: readonly LeadScore[];
}

/** Appends text and bytes to one growing buffer, so a large body is never a string to flatten and re-encode. */
class ByteWriter {
  private buffer: Buffer;
  private length = 0;

  constructor(sizeHint: number) {
    this.buffer = Buffer.allocUnsafe(Math.max(1024, sizeHint));
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }

  text(value: string): void {
    this.reserve(value.length * 3); // the most UTF-8 bytes one UTF-16 unit can need
    this.length += this.buffer.write(value, this.length);
  }

  bytes(value: Buffer): void {
    this.reserve(value.length);
    value.copy(this.buffer, this.length);
    this.length += value.length;
  }

  done(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}

/**
 * A score's reasons come from a fixed table, so their JSON is encoded once at start-up; only
 * the id and the probability are formatted per lead. JSON.stringify of the same objects was
 * the largest cost of /batch-predict (README, "Performance"). `${number}` is the shortest
 * text that reads back as the same double, exactly as JSON.stringify writes it.
 */
export function responseWriter(scorer: Scorer) {
  const reasonJson = new Map<Contribution, string>(scorer.reasons.map((reason) => [reason, JSON.stringify(reason)]));
  const reasonBytes = new Map<Contribution, Buffer>([...reasonJson].map(([reason, json]) => [reason, Buffer.from(json)]));
  const version = JSON.stringify(scorer.version);
  // Inside the V2 explanation tensor each lead's reasons are one JSON text, so each reason appears
  // escaped as a string: encoded once here too. (Built as strings, that tensor took 2-4 times as
  // long as the whole /batch-predict body: 5 ms for 1,000 leads, 11-15 ms with the final flattening.)
  const reasonInString = new Map<Contribution, Buffer>([...reasonJson].map(([reason, json]) => [reason, Buffer.from(JSON.stringify(json).slice(1, -1))]));
  const tensorHead = Object.fromEntries(
    Object.values(OUTPUT_TENSORS).map((t) => [t.name, `{"name":"${t.name}","datatype":"${t.datatype}",${t.parameters ? `"parameters":${JSON.stringify({ content_type: t.parameters.content_type })},` : ''}"shape":[`]),
  ) as Record<OutputName, string>;
  const tensorData: Record<OutputName, (scores: readonly LeadScore[], out: ByteWriter) => void> = {
    // Array#join writes each number as `${number}` does: the shortest text that reads back as the same double.
    probability: (scores, out) => out.text(scores.map((s) => s.probability).join(',')),
    tier: (scores, out) => out.text(scores.map((s) => `"${s.tier}"`).join(',')),
    explanation: (scores, out) => {
      for (let i = 0; i < scores.length; i++) {
        out.text(i ? ',"[' : '"[');
        const reasons = scores[i]!.explanation;
        for (let k = 0; k < reasons.length; k++) {
          if (k) out.text(',');
          const bytes = reasonInString.get(reasons[k]!);
          if (bytes) out.bytes(bytes);
          else out.text(JSON.stringify(JSON.stringify(reasons[k])).slice(1, -1));
        }
        out.text(']"');
      }
    },
  };
  const inferenceHead = `{"model_name":${JSON.stringify(V2_MODEL_NAME)},"model_version":${JSON.stringify(scorer.version)},"id":`;
  const fields = (scored: ScoredLead) => `"mql_id":${JSON.stringify(scored.mql_id)},"probability":${scored.probability},"tier":"${scored.tier}"`;
  return {
    prediction: (scored: ScoredLead): string => {
      const reasons = scored.explanation.map((reason) => reasonJson.get(reason) ?? JSON.stringify(reason));
      return `{${fields(scored)},"model_version":${version},"explanation":[${reasons.join(',')}]}`;
    },
    batch: (predictions: readonly ScoredLead[]): Buffer => {
      const out = new ByteWriter(predictions.length * 280);
      out.text(`{"model_version":${version},"predictions":[`);
      for (let i = 0; i < predictions.length; i++) {
        const scored = predictions[i]!;
        out.text(`${i ? ',' : ''}{${fields(scored)},"explanation":[`);
        for (let k = 0; k < scored.explanation.length; k++) {
          if (k) out.text(',');
          const reason = scored.explanation[k]!;
          const bytes = reasonBytes.get(reason);
          if (bytes) out.bytes(bytes);
          else out.text(JSON.stringify(reason));
        }
        out.text(']}');
      }
      out.text(']}');
      return out.done();
    },
    /** An Open Inference Protocol response: one tensor of N elements per requested output, in the request's order. */
    inference: ({ id, outputs, scores }: Inference): Buffer => {
      const out = new ByteWriter(scores.length * (outputs.includes('explanation') ? 260 : 40));
      out.text(`${inferenceHead}${JSON.stringify(id)},"parameters":{"content_type":"pd"},"outputs":[`);
      outputs.forEach((name, k) => {
        out.text(`${k ? ',' : ''}${tensorHead[name]}${scores.length}],"data":[`);
        tensorData[name](scores, out);
        out.text(']}');
      });
      out.text(']}');
      return out.done();
    },
  };
}
