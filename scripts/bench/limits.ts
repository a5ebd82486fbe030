// The body limits under attack, as npm run bench measures them on a running server: a CSV body far
// beyond MAX_BATCH rows, and uploads that stall after their headers.
import http from 'node:http';
import net from 'node:net';
import { median, peakRssDuring, round, rssMb, say, sleep, type Server } from './harness.js';

/** `bytes` of CSV in rows of a dozen bytes: about 800,000 leads, far past MAX_BATCH. */
export function tinyRowsCsv(bytes: number): Buffer {
  const lines = ['mql_id,first_contact_date,landing_page_id,origin'];
  let size = lines[0]!.length + 1;
  for (let i = 0; size < bytes - 32; i++) {
    const line = `${i.toString(36)},2018-01-01,p,`;
    lines.push(line);
    size += line.length + 1;
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

/** POSTs the whole body and resolves at the response's headers (the server may close before reading the rest). */
function postUntilAnswer(server: Server, path: string, body: Buffer, contentType: string): Promise<{ status: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const request = http.request(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': contentType, 'content-length': body.length, connection: 'close' } }, (response) => {
      const ms = performance.now() - started;
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode!, ms }));
      response.on('error', () => resolve({ status: response.statusCode!, ms }));
    });
    // Writing the rest after the server answered and closed is expected to fail; the answer is what counts.
    request.on('error', (error) => reject(error));
    request.end(body);
  });
}

export interface OversizedCsvResult {
  body_mb: number;
  rows: number;
  status: number[];
  ms_to_answer: { median: number; runs: number[] };
  rss_mb: { before: number; peak: number; after: number; growth_max: number };
}

/** The CSV body of tiny rows, sent `runs` times: how soon the 413 comes, and what the server's memory does meanwhile. */
export async function oversizedCsv(server: Server, runs: number, bytes = 9.9 * 1024 * 1024): Promise<OversizedCsvResult> {
  const body = tinyRowsCsv(bytes);
  const rows = body.toString('latin1').split('\n').length - 2;
  const pid = server.child.pid!;
  const statuses: number[] = [];
  const times: number[] = [];
  let growthMax = 0;
  let first: { beforeMb: number; peakMb: number; afterMb: number } | null = null;
  for (let i = 0; i < runs; i++) {
    const { result, beforeMb, peakMb, afterMb } = await peakRssDuring(pid, () => postUntilAnswer(server, '/batch-predict', body, 'text/csv'));
    statuses.push(result.status);
    times.push(result.ms);
    growthMax = Math.max(growthMax, peakMb - beforeMb);
    first ??= { beforeMb, peakMb, afterMb };
    await sleep(50);
  }
  say(`  9.9 MB CSV: ${statuses.join(', ')} in ${times.map((t) => t.toFixed(0)).join(', ')} ms; RSS growth up to ${growthMax.toFixed(1)} MB`);
  return {
    body_mb: round(body.length / 1024 / 1024, 1),
    rows,
    status: statuses,
    ms_to_answer: { median: round(median(times), 1), runs: times.map((t) => round(t, 1)) },
    rss_mb: { before: round(first!.beforeMb, 1), peak: round(first!.peakMb, 1), after: round(rssMb(pid), 1), growth_max: round(growthMax, 1) },
  };
}

export interface StalledResult {
  uploads: number;
  request_timeout_ms: number;
  /** What each stalled client got back: a status, or `closed` when the connection ended without one. */
  answers: Record<string, number>;
  cut_off_after_ms: { min: number; median: number; max: number };
  /** A /predict sent while every upload stalls. */
  predict_during: { status: number; ms: number };
  rss_mb: { before: number; during: number; after: number };
}

/**
 * `count` uploads that send their headers and the CSV or JSON body's first bytes, then one byte a
 * second: the body timeout must cut every one off, the server must keep answering meanwhile, and
 * its memory must come back.
 */
export async function stalledUploads(server: Server, count: number, requestTimeoutMs: number): Promise<StalledResult> {
  const pid = server.child.pid!;
  const before = rssMb(pid);
  const started = performance.now();
  const outcomes = Array.from({ length: count }, (_, i) =>
    new Promise<{ answer: string; ms: number }>((resolve) => {
      const csv = i % 2 === 0;
      const socket = net.connect(server.port, '127.0.0.1');
      let answer = 'closed';
      let timer: NodeJS.Timeout | undefined;
      socket.on('connect', () => {
        socket.write(
          `POST /batch-predict HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: ${csv ? 'text/csv' : 'application/json'}\r\ncontent-length: 1000000\r\n\r\n${csv ? 'mql_id,first_contact_date,landing_page_id,origin\n' : '{"leads":['}`,
        );
        timer = setInterval(() => socket.write(csv ? 'a' : ' '), 1000);
      });
      socket.on('data', (chunk: Buffer) => {
        const status = /^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1'));
        if (status) answer = status[1]!;
      });
      const finish = () => {
        clearInterval(timer);
        resolve({ answer, ms: performance.now() - started });
      };
      socket.on('close', finish);
      socket.on('error', () => undefined); // a write after the server's close; 'close' follows
    }),
  );
  await sleep(Math.min(2500, requestTimeoutMs / 2));
  const during = rssMb(pid);
  const predictStarted = performance.now();
  const predict = await fetch(`${server.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mql_id: 'during-the-stall', first_contact_date: '2018-05-02', landing_page_id: 'p', origin: 'email' }) });
  await predict.text();
  const predictMs = performance.now() - predictStarted;
  const results = await Promise.all(outcomes);
  await sleep(1000);
  const after = rssMb(pid);
  const answers: Record<string, number> = {};
  for (const { answer } of results) answers[answer] = (answers[answer] ?? 0) + 1;
  const times = results.map((r) => r.ms);
  say(`  ${count} stalled uploads: ${JSON.stringify(answers)} after ${Math.min(...times).toFixed(0)}–${Math.max(...times).toFixed(0)} ms; RSS ${before.toFixed(1)} → ${during.toFixed(1)} → ${after.toFixed(1)} MB`);
  return {
    uploads: count,
    request_timeout_ms: requestTimeoutMs,
    answers,
    cut_off_after_ms: { min: round(Math.min(...times)), median: round(median(times)), max: round(Math.max(...times)) },
    predict_during: { status: predict.status, ms: round(predictMs, 1) },
    rss_mb: { before: round(before, 1), during: round(during, 1), after: round(after, 1) },
  };
}
