/**
 * One load generator in its own process (`node --import tsx bench/load.ts '<autocannon options JSON>'`),
 * so that generators do not share an event loop with each other or with what they measure.
 * Prints `{"ready": true}` once loaded, waits for one line on stdin (the start signal, so that
 * several generators start together), runs autocannon, and prints one JSON line of results,
 * including the CPU time this generator used per second of wall time (`cpuShare`: near 1.0 means
 * the generator, not the server, was the limit).
 */
import autocannon, { type Options } from 'autocannon';
import { createInterface } from 'node:readline';

export interface LoadResult {
  readonly reqPerSec: number;
  readonly total: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly status: Record<string, number>;
  /** CPU seconds this process used per wall second of the run. */
  readonly cpuShare: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
console.log(JSON.stringify({ ready: true }));
await new Promise<void>((resolve) => createInterface({ input: process.stdin }).once('line', () => resolve()));
const cpu = process.cpuUsage();
const started = performance.now();
const result = await autocannon(options);
const used = process.cpuUsage(cpu);
const wallMs = performance.now() - started;
const out: LoadResult = {
  reqPerSec: result.requests.average,
  total: result.requests.total,
  non2xx: result.non2xx,
  errors: result.errors,
  status: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => [code, s.count])),
  cpuShare: Math.round(((used.user + used.system) / 1000 / wallMs) * 100) / 100,
};
console.log(JSON.stringify(out));
process.exit(0);
