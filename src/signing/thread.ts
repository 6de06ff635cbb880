import type { KeyObject } from 'node:crypto';
import { WorkerLink } from '../core/worker.js';

/**
 * The signing thread's code, run with `eval` and no module system of its own (node's built-ins come
 * from `process.getBuiltinModule`, so it runs alike as CommonJS or as a module, from the compiled
 * bin and from TypeScript sources, with no loader in the worker). It keeps
 * the keys it was sent by number, signs each batch in order with node:crypto and answers the
 * batch with one message: per job the whole JWS, or the error's message.
 */
const WORKER_CODE = `
const { parentPort } = process.getBuiltinModule('node:worker_threads');
const { sign } = process.getBuiltinModule('node:crypto');
const keys = new Map();
parentPort.on('message', (m) => {
  // Each key with the one algorithm it can sign: P-256 for ES256, Ed25519 for EdDSA, else none.
  if (m.keys) for (const [id, key] of m.keys) {
    const type = key.asymmetricKeyType;
    const alg = type === 'ed25519' ? 'EdDSA' : type === 'ec' && key.asymmetricKeyDetails.namedCurve === 'prime256v1' ? 'ES256' : null;
    keys.set(id, { key, alg });
  }
  if (m.drop) for (const id of m.drop) keys.delete(id);
  if (!m.jobs) return;
  const out = new Array(m.jobs.length);
  for (let i = 0; i < m.jobs.length; i++) {
    const [keyId, es256, header, payload] = m.jobs[i];
    try {
      const held = keys.get(keyId);
      if (held === undefined) throw new Error('unknown signing key');
      // The key must be of the algorithm's type: node would otherwise sign with another scheme.
      if (held.alg !== (es256 ? 'ES256' : 'EdDSA')) throw new Error('the key does not match the algorithm');
      const key = held.key;
      const input = header + '.' + Buffer.from(payload, 'utf8').toString('base64url');
      const data = Buffer.from(input, 'latin1');
      const signature = es256 ? sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }) : sign(null, data, key);
      out[i] = input + '.' + signature.toString('base64url');
    } catch (err) {
      out[i] = { error: String(err && err.message || err) };
    }
  }
  parentPort.postMessage({ id: m.id, out });
});
`;

/** One JWS to sign: the key, ES256 (else EdDSA), the encoded protected header and the payload's JSON. */
type Job = readonly [keyId: number, es256: boolean, header: string, payload: string];

interface Waiter {
  readonly resolve: (jws: string) => void;
  readonly reject: (err: Error) => void;
}

/** The thread's answer to a batch: per job the JWS, or the error's message. */
interface Answer {
  readonly id: number;
  readonly out: readonly (string | { error: string })[];
}

/**
 * A thread that signs JWS for the whole process, in batches: every signature asked for during one
 * turn of the event loop goes to the thread in one message (sent from `setImmediate`, after the
 * loop has read every request that was ready) and comes back in one. The event loop pays one
 * message and one wake-up per batch instead of, per signature, one libuv thread-pool job, the
 * futex that wakes a pool thread and the completion callback: on the token endpoint that was
 * the main thread's largest single cost after HTTP and SQLite.
 *
 * Private keys cross to the thread as `KeyObject`s (cloned by node, never exported) the first time
 * each is used, and are dropped there when the main thread's `KeyObject` is collected. The thread
 * is started on the first signature and keeps the process alive only while signatures are pending.
 * If it fails or exits, what it had is refused with the cause and the next signature starts a new
 * one, to which the keys are sent again ({@link WorkerLink}).
 */
export class SigningThread {
  readonly #link = new WorkerLink<Answer>(
    () => {
      const { Worker } = process.getBuiltinModule('node:worker_threads');
      return new Worker(WORKER_CODE, { eval: true, name: 'keyturn-signer', execArgv: [] });
    },
    (code) => new Error(`the signing thread exited (code ${code})`),
  );
  /** The worker generation the keys below were sent to. */
  #generation = 0;
  /** Keys that thread holds (or is about to be sent), by the number it knows them under. */
  #ids = new WeakMap<KeyObject, number>();
  #nextKeyId = 0;
  #newKeys: [number, KeyObject][] = [];
  #dropped: number[] = [];
  readonly #collected = new FinalizationRegistry<{ id: number; generation: number }>((held) => {
    if (held.generation === this.#generation) this.#dropped.push(held.id);
  });
  /** The batch being gathered during this turn of the event loop. */
  #jobs: Job[] = [];
  #waiters: Waiter[] = [];

  /** Resolves to the JWS compact serialisation of `payload` (JSON text) under `header` (encoded), signed with `key`. */
  sign(key: KeyObject, es256: boolean, header: string, payload: string): Promise<string> {
    const generation = this.#link.generation;
    if (generation !== this.#generation) {
      // A new thread (the first, or one replacing a failed one) holds no key yet.
      this.#generation = generation;
      this.#ids = new WeakMap();
      this.#newKeys = [];
      this.#dropped = [];
    }
    let id = this.#ids.get(key);
    if (id === undefined) {
      id = ++this.#nextKeyId;
      this.#ids.set(key, id);
      this.#newKeys.push([id, key]);
      this.#collected.register(key, { id, generation });
    }
    if (this.#jobs.length === 0) setImmediate(this.#flush);
    this.#jobs.push([id, es256, header, payload]);
    return new Promise<string>((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  readonly #flush = (): void => {
    const jobs = this.#jobs;
    const waiters = this.#waiters;
    this.#jobs = [];
    this.#waiters = [];
    const keys = this.#newKeys;
    const drop = this.#dropped;
    this.#newKeys = [];
    this.#dropped = [];
    this.#link.send(
      (id) => ({ id, jobs, ...(keys.length > 0 ? { keys } : {}), ...(drop.length > 0 ? { drop } : {}) }),
      (answer) => {
        for (let i = 0; i < waiters.length; i++) {
          const out = answer.out[i];
          if (typeof out === 'string') waiters[i]!.resolve(out);
          else waiters[i]!.reject(new Error(`signing failed: ${out?.error ?? 'no answer'}`));
        }
      },
      (err) => {
        for (const w of waiters) w.reject(err);
      },
    );
  };

  /** Stops the thread (tests); pending signatures are refused, and the next one starts a new thread. */
  close(): Promise<void> {
    return this.#link.close();
  }
}
