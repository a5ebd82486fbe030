// JSON for scoring responses, assembled from fragments prepared when the model loads.
import type { Contribution, LeadScore, Scorer } from '../model/scorer.js';

export interface ScoredLead extends LeadScore {
  mql_id: string;
}

/**
 * A score's reasons come from a fixed table, so their JSON is written once at start-up; only
 * the id and the probability are formatted per lead. JSON.stringify of the same objects was
 * the largest cost of /batch-predict (README, "Performance"). `${number}` is the shortest
 * text that reads back as the same double, exactly as JSON.stringify writes it.
 */
export function responseWriter(scorer: Scorer) {
  const reasonJson = new Map<Contribution, string>(scorer.reasons.map((reason) => [reason, JSON.stringify(reason)]));
  const version = JSON.stringify(scorer.version);
  const explanation = (reasons: readonly Contribution[]) => {
    let out = '';
    for (let i = 0; i < reasons.length; i++) out += (i ? ',' : '') + (reasonJson.get(reasons[i]!) ?? JSON.stringify(reasons[i]));
    return out;
  };
  const fields = (scored: ScoredLead) => `"mql_id":${JSON.stringify(scored.mql_id)},"probability":${scored.probability},"tier":"${scored.tier}"`;
  return {
    prediction: (scored: ScoredLead) => `{${fields(scored)},"model_version":${version},"explanation":[${explanation(scored.explanation)}]}`,
    batch: (predictions: readonly ScoredLead[]) => {
      let out = `{"model_version":${version},"predictions":[`;
      for (let i = 0; i < predictions.length; i++) out += `${i ? ',' : ''}{${fields(predictions[i]!)},"explanation":[${explanation(predictions[i]!.explanation)}]}`;
      return `${out}]}`;
    },
  };
}
