// Reading a /metrics scrape in tests.
import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';

/**
 * A scrape read two ways: the text must pass a Prometheus text-format parser (which throws on
 * a malformed line), and the samples are read line by line for their values, since that parser
 * folds a labelled histogram's series together.
 */
export function readScrape(text: string) {
  const families: MetricFamily[] = parsePrometheusTextFormat(text);
  const samples = text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
  /** The sum of a metric's samples whose labels include `labels`; a histogram is read from its _count series. */
  const value = (name: string, labels: Record<string, string> = {}) => {
    const family = families.find((f) => f.name === name);
    if (!family) throw new Error(`no metric ${name}`);
    const series = family.type === 'HISTOGRAM' ? `${name}_count` : name;
    return samples.filter((s) => s.name === series && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
  };
  return { families, samples, value };
}

