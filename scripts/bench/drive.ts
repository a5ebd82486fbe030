// A load generator of its own for one server, for sideBySide() in harness.ts: POSTs bodies at a
// fixed overall rate and prints how many responses it has had, every 50 ms, on stdout.
// Usage: drive.ts <url> <bodies.json> <rate> <seconds> <connections>
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

const [url, bodiesFile, rate, seconds, connections] = process.argv.slice(2) as [string, string, string, string, string];
const bodies = JSON.parse(readFileSync(bodiesFile, 'utf8')) as string[];
let next = 0;
let responses = 0;
let failures = 0;
const report = setInterval(() => process.stdout.write(`${responses} ${failures}\n`), 50);
const instance = autocannon(
  {
    url,
    method: 'POST',
    connections: Number(connections),
    overallRate: Number(rate),
    duration: Number(seconds),
    headers: { 'content-type': 'application/json' },
    requests: [{ setupRequest: (request) => ({ ...request, body: bodies[next++ % bodies.length] }) }],
  },
  () => {
    clearInterval(report);
    process.stdout.write(`${responses} ${failures}\nend\n`);
  },
);
instance.on('response', (_client, statusCode) => {
  responses++;
  if (statusCode !== 200) failures++;
});
