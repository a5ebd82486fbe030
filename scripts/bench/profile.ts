// npx tsx scripts/bench/profile.ts <file.cpuprofile> [--top 25] [--skip ms]: where a process's CPU went, from
// a profile written by `node --cpu-prof` (npm run bench -- --cpu-prof <dir> writes one per server).
// Self time by package (or by file of this project), and the time spent inside each package
// counted with everything it calls: what a plugin costs, hooks included.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** `@fastify/helmet`, `prom-client`, `src/server/plugins/metrics.js`, `node:internal`, or `(garbage collector)`. */
export function owner(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (packageMatch) return packageMatch[1]!;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const project = /\/(?:dist\/)?((?:src|scripts)\/.*)$/.exec(url);
  return project ? project[1]! : url;
}

/** `skipMs`: samples of the first milliseconds (start-up, module loading) are left out. */
export function shares(profile: Profile, skipMs = 0): { total: number; self: Map<string, number>; inclusive: Map<string, number>; functions: Map<string, number> } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  let at = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    at += ms;
    if (at < skipMs) return;
    const node = byId.get(id)!;
    const name = owner(node.callFrame.url, node.callFrame.functionName);
    if (name === '(idle)') return;
    total += ms;
    self.set(name, (self.get(name) ?? 0) + ms);
    const where = `${node.callFrame.functionName || '(anonymous)'} ${name}:${node.callFrame.lineNumber + 1}`;
    functions.set(where, (functions.get(where) ?? 0) + ms);
    const seen = new Set<string>();
    for (let frameId: number | undefined = id; frameId !== undefined; frameId = parent.get(frameId)) {
      const frame = byId.get(frameId)!.callFrame;
      seen.add(owner(frame.url, frame.functionName));
    }
    for (const owned of seen) inclusive.set(owned, (inclusive.get(owned) ?? 0) + ms);
  });
  return { total, self, inclusive, functions };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, skip: { type: 'string', default: '0' } } });
  const top = Number(values.top);
  for (const file of positionals) {
    const { total, self, inclusive, functions } = shares(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(values.skip));
    const list = (title: string, map: Map<string, number>) => {
      console.log(`\n${title}`);
      for (const [name, ms] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${((100 * ms) / total).toFixed(1).padStart(5)} %  ${ms.toFixed(0).padStart(6)} ms  ${name}`);
    };
    console.log(`${file}: ${total.toFixed(0)} ms of CPU samples (idle left out)`);
    list('self time by owner', self);
    list('inclusive time by owner (the owner or anything it calls on the stack)', inclusive);
    list('self time by function', functions);
  }
}
