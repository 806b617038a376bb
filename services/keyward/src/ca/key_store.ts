/**
 * The default CA key store: keys generated in this process and stored sealed
 * under the key-encryption key (./key_protection.ts), in the CA's row.
 */
import type { KeyObject } from 'node:crypto';
import { protectKey, unprotectKey, type KeyBlob } from './key_protection.ts';
import { generateCaKey } from './keys.ts';
import type { CaKeyRef, CaKeyStore, CaSigner } from './ports.ts';
import { localSigner } from './signer.ts';

/**
 * @param signerFor how an opened key signs (default: in this thread; crypto/offload.ts: on worker threads under load)
 * @example const keys = sealedKeyStore(kek); const { signer, ref } = await keys.generate({ id, keyType: 'EC-P256' });
 */
export function sealedKeyStore(kek: Uint8Array, signerFor: (key: KeyObject) => CaSigner = localSigner): CaKeyStore {
  return Object.freeze({
    kind: 'sealed' as const,
    async generate(o: { readonly id: string; readonly keyType: Parameters<typeof generateCaKey>[0] }) {
      const key = await generateCaKey(o.keyType);
      return { signer: signerFor(key), ref: { store: 'sealed', blob: protectKey(kek, key) } satisfies CaKeyRef };
    },
    open(ref: CaKeyRef): CaSigner {
      if (ref.store !== 'sealed') throw new TypeError(`a ${ref.store} CA key cannot be opened by the sealed key store`);
      return signerFor(unprotectKey(kek, ref.blob));
    },
  });
}

/**
 * One store that generates with `primary` and opens every kind of reference
 * with the store of its kind: CAs made before a switch to an HSM keep signing
 * with their sealed keys.
 */
export function combinedKeyStore(primary: CaKeyStore, ...others: readonly CaKeyStore[]): CaKeyStore {
  const byKind = new Map<string, CaKeyStore>([...others, primary].map((s) => [s.kind, s]));
  return Object.freeze({
    kind: primary.kind,
    generate: (o: { readonly id: string; readonly keyType: Parameters<typeof generateCaKey>[0] }) => primary.generate(o),
    open(ref: CaKeyRef): CaSigner {
      const store = byKind.get(ref.store);
      if (!store) throw new TypeError(`this CA's key is in a ${ref.store} key store, which is not configured`);
      return store.open(ref);
    },
    discard: async (ref: CaKeyRef): Promise<void> => {
      await byKind.get(ref.store)?.discard?.(ref);
    },
  });
}

/** The sealed blob of a sealed key reference; TypeError for a key in an HSM. */
export function sealedBlobOf(ref: CaKeyRef): KeyBlob {
  if (ref.store !== 'sealed') throw new TypeError(`this CA key is in a ${ref.store} key store, not sealed`);
  return ref.blob;
}
