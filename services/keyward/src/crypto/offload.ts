/**
 * Issuance's public-key operations on worker threads, under load: the CaSigner
 * and CSR signature verifier ports of the CA domain, implemented here.
 * A CSR's proof of possession and the CA's signature are the costly steps of
 * an issuance, and node:crypto runs them synchronously on the calling thread.
 * Under concurrent load they go to `threads` worker threads
 * (crypto_worker.ts) while the main thread parses, validates, builds
 * templates and talks to the database.
 *
 * Adaptive: an operation runs inline (no thread hop, no added latency) unless
 * operations are already out on the workers or this turn of the event loop
 * has already run INLINE_PER_TURN operations inline — a lone request never
 * waits for a hop, a burst spreads over the cores. What one turn queues goes
 * to the workers in one message, and they answer in chunks: a worker stays
 * busy on a batch instead of waking per operation (per-operation hand-offs,
 * as with libuv's thread pool, cost more than they save on two cores).
 * Results are the same either way: the worker runs the CA domain's
 * verifyCsrSignature and signs as localSigner does; operations of a worker
 * that dies run inline, and a worker that fails to run turns offloading off.
 */
import type { KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import {
  localSigner,
  verifyCsrSignature,
  type CaSigner,
  type CsrSignatureCheck,
  type CsrSignatureResult,
  type CsrSignatureVerifier,
} from '../ca/index.ts';

export type WorkerOp =
  | { readonly seq: number; readonly kind: 'verify'; readonly check: CsrSignatureCheck }
  | { readonly seq: number; readonly kind: 'sign'; readonly key: number; readonly hash: string; readonly data: Uint8Array };
export interface WorkerRequest {
  readonly keys?: ReadonlyArray<readonly [number, KeyObject]>;
  readonly ops: readonly WorkerOp[];
}
export type WorkerReply = readonly [number, CsrSignatureResult | Uint8Array | { readonly error: string }];

/** Operations one turn of the event loop runs inline before it hands the rest to the workers. */
const INLINE_PER_TURN = 2;

interface Lane {
  readonly worker: Worker;
  readonly keys: Set<number>;
  outstanding: number;
}

interface Waiting {
  readonly op: WorkerOp;
  readonly resolve: (value: CsrSignatureResult | Uint8Array) => void;
  readonly reject: (err: unknown) => void;
  lane: Lane | undefined;
}

/** A standalone copy: a view into a pooled buffer would drag the whole slab through postMessage. */
const compact = (b: Uint8Array): Uint8Array => new Uint8Array(b);

export class CryptoOffload {
  readonly #threads: number;
  readonly #lanes: Lane[] = [];
  readonly #waiting = new Map<number, Waiting>();
  readonly #keyIds = new WeakMap<KeyObject, number>();
  readonly #keys = new Map<number, KeyObject>();
  #queue: WorkerOp[] = [];
  #flushScheduled = false;
  #inlineThisTurn = 0;
  #resetScheduled = false;
  #seq = 0;
  /** Set when a worker could not start or died: from then on everything runs inline. */
  #broken = false;
  readonly #signers = new Map<number, CaSigner>();

  /** @param options.threads worker threads; default one fewer than the cores, at most 4 (none on one core: all inline). */
  constructor(options: { threads?: number } = {}) {
    this.#threads = Math.max(0, options.threads ?? Math.min(4, availableParallelism() - 1));
  }

  /** The CSR signature verifier for parseCsrAsync. */
  readonly verifyCsr: CsrSignatureVerifier = (check) => {
    if (!this.#offload()) return verifyCsrSignature(check);
    return this.#submit<CsrSignatureResult>({
      seq: ++this.#seq,
      kind: 'verify',
      check: { digest: check.digest, tbs: compact(check.tbs), spki: compact(check.spki), signature: compact(check.signature) },
    });
  };

  /** A CaSigner over a local key: inline as localSigner, on a worker under load. */
  signer(privateKey: KeyObject): CaSigner {
    const local = localSigner(privateKey);
    if (this.#threads === 0) return local;
    let id = this.#keyIds.get(privateKey);
    if (id === undefined) {
      id = this.#keys.size + 1;
      this.#keyIds.set(privateKey, id);
      this.#keys.set(id, privateKey);
      this.#signers.set(id, local);
    }
    const key = id;
    const hash = local.algorithm.hash;
    return Object.freeze({
      keyType: local.keyType,
      algorithm: local.algorithm,
      spki: local.spki,
      sign: (data: Uint8Array): Uint8Array | Promise<Uint8Array> =>
        this.#offload() ? this.#submit<Uint8Array>({ seq: ++this.#seq, kind: 'sign', key, hash, data: compact(data) }) : local.sign(data),
    });
  }

  /** Stops the workers (operations in flight finish inline); later bursts start new ones. */
  async close(): Promise<void> {
    await Promise.all(this.#lanes.splice(0).map((l) => l.worker.terminate()));
  }

  #offload(): boolean {
    if (this.#threads === 0 || this.#broken) return false;
    if (this.#waiting.size > 0) return true;
    if (this.#inlineThisTurn < INLINE_PER_TURN) {
      this.#inlineThisTurn++;
      if (!this.#resetScheduled) {
        this.#resetScheduled = true;
        setImmediate(() => {
          this.#inlineThisTurn = 0;
          this.#resetScheduled = false;
        });
      }
      return false;
    }
    return true;
  }

  #submit<T>(op: WorkerOp): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push(op);
      this.#waiting.set(op.seq, { op, resolve: resolve as (value: CsrSignatureResult | Uint8Array) => void, reject, lane: undefined });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    const ops = this.#queue;
    this.#queue = [];
    if (!ops.length) return;
    try {
      while (this.#lanes.length < this.#threads) this.#lanes.push(this.#lane());
    } catch {
      this.#broken = true;
      for (const op of ops) this.#runInline(op.seq);
      return;
    }
    // The batch is split over the lanes, the least busy first.
    const lanes = [...this.#lanes].sort((a, b) => a.outstanding - b.outstanding);
    const per = Math.ceil(ops.length / lanes.length);
    for (const [i, lane] of lanes.entries()) {
      const part = ops.slice(i * per, (i + 1) * per);
      if (!part.length) break;
      const keys: Array<[number, KeyObject]> = [];
      for (const op of part) {
        this.#waiting.get(op.seq)!.lane = lane;
        if (op.kind === 'sign' && !lane.keys.has(op.key)) {
          lane.keys.add(op.key);
          keys.push([op.key, this.#keys.get(op.key)!]);
        }
      }
      if (lane.outstanding === 0) lane.worker.ref(); // an awaited answer keeps the process alive
      lane.outstanding += part.length;
      lane.worker.postMessage({ ...(keys.length ? { keys } : {}), ops: part } satisfies WorkerRequest);
    }
  }

  #settle(seq: number, result: WorkerReply[1]): void {
    const w = this.#waiting.get(seq);
    if (!w) return;
    this.#waiting.delete(seq);
    if (w.lane && --w.lane.outstanding === 0) w.lane.worker.unref();
    if (typeof result === 'object' && !(result instanceof Uint8Array)) w.reject(new Error(`crypto worker: ${result.error}`));
    else w.resolve(result);
  }

  #lane(): Lane {
    const worker = new Worker(new URL('./crypto_worker.ts', import.meta.url));
    worker.unref();
    const lane: Lane = { worker, keys: new Set(), outstanding: 0 };
    worker.on('message', (replies: WorkerReply[]) => {
      for (const [seq, result] of replies) this.#settle(seq, result);
    });
    // A worker that fails or is stopped hands its operations back: they run here, with the same results.
    const gone = (failed: boolean) => {
      const i = this.#lanes.indexOf(lane);
      if (i >= 0) this.#lanes.splice(i, 1);
      if (failed) this.#broken = true; // a worker that cannot run is not started again and again
      for (const [seq, w] of this.#waiting) if (w.lane === lane) this.#runInline(seq);
      lane.outstanding = 0;
    };
    worker.on('error', () => gone(true));
    worker.on('exit', () => gone(false));
    return lane;
  }

  #runInline(seq: number): void {
    const w = this.#waiting.get(seq);
    if (!w) return;
    this.#waiting.delete(seq);
    try {
      if (w.op.kind === 'verify') w.resolve(verifyCsrSignature(w.op.check));
      else void Promise.resolve(this.#signers.get(w.op.key)!.sign(w.op.data)).then(w.resolve, w.reject);
    } catch (err) {
      w.reject(err);
    }
  }
}

let shared: CryptoOffload | undefined;
/** The process's default offload: one set of workers however many engines (they start on the first burst and idle unreferenced). */
export function sharedOffload(): CryptoOffload {
  shared ??= new CryptoOffload();
  return shared;
}
