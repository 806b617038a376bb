/**
 * The worker thread of offload.ts: CSR signature checks (the CA domain's
 * verifyCsrSignature) and CA signatures (node:crypto, as localSigner signs).
 *
 * In: `{ keys?: [id, KeyObject][], ops: WorkerOp[] }`. Out: `[seq, result][]`,
 * in chunks, so the first answers of a long batch do not wait for the last.
 */
import { sign, type KeyObject } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { verifyCsrSignature } from '../ca/index.ts';
import type { WorkerReply, WorkerRequest } from './offload.ts';

const keys = new Map<number, { key: KeyObject; dsaEncoding: 'der' }>();
const CHUNK = 8;

parentPort!.on('message', (req: WorkerRequest) => {
  for (const [id, key] of req.keys ?? []) keys.set(id, { key, dsaEncoding: 'der' }); // dsaEncoding: X.509 carries Ecdsa-Sig-Value
  let out: WorkerReply[] = [];
  for (const op of req.ops) {
    let result: WorkerReply[1];
    try {
      if (op.kind === 'verify') result = verifyCsrSignature(op.check);
      else {
        const key = keys.get(op.key);
        result = key ? sign(op.hash, op.data, key) : { error: `unknown key ${op.key}` };
      }
    } catch (err) {
      result = { error: err instanceof Error ? err.message : String(err) };
    }
    out.push([op.seq, result]);
    if (out.length === CHUNK) {
      parentPort!.postMessage(out);
      out = [];
    }
  }
  if (out.length) parentPort!.postMessage(out);
});
