// JSON for scoring responses, assembled from fragments prepared when the model loads.
import type { Contribution, LeadScore, Scorer } from '../model/scorer.js';

export interface ScoredLead extends LeadScore {
  mql_id: string;
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
  };
}
