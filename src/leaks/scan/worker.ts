/**
 * Worker-thread entry of the scan pool: compiles the engine once from `workerData`, then
 * answers each `{ id, task }` with `{ id, results }`. Loaded as compiled JS from `dist/`, or
 * through tsx's CommonJS hook when running from source (so: no `import.meta` here).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { compileEngine } from './detect.js';
import type { EngineConfig } from './types.js';
import { runTask, type Task } from './work.js';

const engine = compileEngine((workerData as { config: EngineConfig }).config);
const port = parentPort;
if (port) {
  port.on('message', (message: { id: number; task: Task }) => {
    try {
      port.postMessage({ id: message.id, results: runTask(engine, message.task) });
    } catch (err) {
      port.postMessage({ id: message.id, error: err instanceof Error ? err.message : String(err) });
    }
  });
  port.postMessage({ id: 0, ready: true });
}
