// npx tsx scripts/bench/ab.ts ['name:ENV=value,ENV2=value;name2:…'] [--connections 8] [--rounds 8] [--seconds 2]
// Two or more fresh servers (the build in dist/, no store unless a variant sets one) that differ only
// in their environment, driven with /predict in alternation: for the cost of one setting when the
// whole bench's servers, each with its own history, are too noisy to show a few per cent.
// Default: METRICS on against METRICS=false. Run `npm run build` first.
import { parseArgs } from 'node:util';
import { loadArtifact } from '../../src/model/artifact.js';
import { interleave, leadPool, load, startServer, stopServer, summarise, type Server } from './harness.js';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { connections: { type: 'string', default: '8' }, rounds: { type: 'string', default: '8' }, seconds: { type: 'string', default: '2' } },
});
const variants = (positionals[0] ?? 'metrics:;no_metrics:METRICS=false').split(';').map((variant) => {
  const [name, env = ''] = variant.split(':');
  return { name: name!, env: Object.fromEntries(env.split(',').filter(Boolean).map((pair) => pair.split('=') as [string, string])) };
});
const root = process.cwd();
const { artifact } = await loadArtifact('artifacts');
const bodies = leadPool(artifact, 10_000, 1).map((lead) => JSON.stringify(lead));
const servers: Record<string, Server> = {};
for (const { name, env } of variants) servers[name] = await startServer(name, root, ['dist/server/main.js'], { STORE_URL: 'none', MAX_EVENT_LOOP_DELAY_MS: '0', ...env });
const connections = Number(args.connections);
const runs = await interleave(
  Number(args.rounds),
  Object.fromEntries(Object.entries(servers).map(([name, server]) => [name, () => load(server, { path: '/predict', bodies, connections, seconds: Number(args.seconds) })])),
  `/predict ×${connections}`,
);
const summaries = Object.entries(runs).map(([name, loads]) => [name, summarise(loads)] as const);
const [, first] = summaries[0]!;
for (const [name, s] of summaries) {
  console.log(`${name}: best ${s.requestsPerSecond} req/s (median ${s.medianRequestsPerSecond}), lowest CPU ${s.cpuMicrosPerRequest} µs per request; vs ${summaries[0]![0]} ${(s.requestsPerSecond / first.requestsPerSecond).toFixed(3)}×`);
}
for (const server of Object.values(servers)) await stopServer(server);
