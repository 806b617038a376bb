/**
 * CA keys inside a PKCS#11 token (a hardware security module, or SoftHSM):
 * the CaKeyStore port of the CA domain over pkcs11js.
 *
 * - Keys are generated in the token (C_GenerateKeyPair), private halves
 *   CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE true and CKA_EXTRACTABLE false,
 *   both halves labelled with the CA's id (CKA_LABEL, and CKA_ID as the id's
 *   16 bytes). The database keeps only `{ store: 'pkcs11', token, id }`.
 * - Signing: the digest is computed here and the token signs it — CKM_ECDSA
 *   (its IEEE P1363 r‖s answer becomes the DER Ecdsa-Sig-Value X.509
 *   carries, RFC 3279 §2.2.3) or CKM_RSA_PKCS over the DigestInfo
 *   (RFC 8017 §9.2, PKCS#1 v1.5). The calls run off the event loop
 *   (C_SignAsync) on a pool of sessions sized for the signing concurrency.
 * - One login per process (PKCS#11 logs in the application, not a session);
 *   CKR_USER_NOT_LOGGED_IN logs in again, CKR_SESSION_HANDLE_INVALID /
 *   CKR_SESSION_CLOSED reopen the sessions, a removed or reset token
 *   (CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT, CKR_CRYPTOKI_NOT_INITIALIZED …)
 *   re-initialises the module and finds the token again by its label; the
 *   operation is then tried once more.
 * - A missing module, a token that is not there and a refused PIN stop the
 *   start with a ConfigError naming the setting.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import {
  ecdsaRawToDer,
  isCaKeyType,
  keyTypeOf,
  signatureAlgorithmFor,
  spkiOf,
  type CaKeyRef,
  type CaKeyStore,
  type CaKeyType,
  type CaSigner,
} from '../ca/index.ts';
import { ConfigError } from '../kernel/config.ts';
import { KeywardError } from '../kernel/errors.ts';

type Handle = Buffer;

export interface Pkcs11Options {
  /** Path of the PKCS#11 module (KEYWARD_PKCS11_MODULE). */
  readonly module: string;
  /** The token, by label (KEYWARD_PKCS11_TOKEN_LABEL) … */
  readonly tokenLabel?: string | undefined;
  /** … or by slot id (KEYWARD_PKCS11_SLOT). */
  readonly slot?: number | undefined;
  readonly pin: string;
  /** The setting the PIN came from, named when the token refuses it. */
  readonly pinSetting?: string;
  /** Sessions for signing at once (KEYWARD_PKCS11_SESSIONS); default 4. */
  readonly sessions?: number;
}

/** pkcs11js's error, as it throws it. */
interface Pkcs11Error extends Error {
  readonly code?: number;
}

const codeOf = (err: unknown): number | undefined =>
  err instanceof Error && typeof (err as Pkcs11Error).code === 'number' && /^CKR_/.test(err.message)
    ? (err as Pkcs11Error).code
    : undefined;

/** Errors after which the module is re-initialised and the token found again. */
const RESET = new Set([
  pkcs11js.CKR_DEVICE_REMOVED,
  pkcs11js.CKR_TOKEN_NOT_PRESENT,
  pkcs11js.CKR_TOKEN_NOT_RECOGNIZED,
  pkcs11js.CKR_CRYPTOKI_NOT_INITIALIZED,
  pkcs11js.CKR_DEVICE_ERROR,
  pkcs11js.CKR_SLOT_ID_INVALID,
]);
/** Errors after which the sessions are opened again (and the application logged in). */
const REOPEN = new Set([pkcs11js.CKR_SESSION_HANDLE_INVALID, pkcs11js.CKR_SESSION_CLOSED]);
const HANDLE_STALE = new Set([pkcs11js.CKR_OBJECT_HANDLE_INVALID, pkcs11js.CKR_KEY_HANDLE_INVALID]);

/** CKA_EC_PARAMS: the named curve's OID, DER. */
const CURVE_PARAMS: Readonly<Record<string, Buffer>> = {
  'EC-P256': Buffer.from('06082a8648ce3d030107', 'hex'),
  'EC-P384': Buffer.from('06052b81040022', 'hex'),
};
const CURVE_OF_PARAMS: Readonly<Record<string, { crv: string; size: number }>> = {
  '06082a8648ce3d030107': { crv: 'P-256', size: 32 },
  '06052b81040022': { crv: 'P-384', size: 48 },
};
/** DER DigestInfo prefixes (RFC 8017 §9.2 note 1). */
const DIGEST_INFO: Readonly<Record<string, Buffer>> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
};

/** CKA_ID of a CA key: the 16 bytes of a UUID, else the id's UTF-8. */
export function pkcs11IdOf(id: string): Buffer {
  return /^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(id) ? Buffer.from(id.replace(/-/g, ''), 'hex') : Buffer.from(id, 'utf8');
}

const b64url = (b: Buffer): string => b.toString('base64url');
const slotIdOf = (h: Handle): number => (h.length >= 8 ? Number(h.readBigUInt64LE(0)) : h.readUInt32LE(0));
const trimmed = (s: string): string => s.replace(/[\s\0]+$/, '');

interface Lease {
  readonly session: Handle;
  readonly generation: number;
}

interface OpenedKey {
  readonly privateKey: Handle;
  readonly generation: number;
}

export class Pkcs11KeyStore implements CaKeyStore {
  readonly kind = 'pkcs11' as const;
  readonly #p: pkcs11js.PKCS11;
  readonly #o: Required<Pick<Pkcs11Options, 'module' | 'pin' | 'pinSetting' | 'sessions'>> & Pkcs11Options;
  #slot!: Handle;
  /** The token's label: what key references name. */
  #label = '';
  /** Bumped whenever sessions (and object handles) of before are no longer valid. */
  #generation = 0;
  /** The session for the short synchronous calls (finding objects, reading public keys). */
  #admin!: Handle;
  #free: Handle[] = [];
  #opened = 0;
  readonly #waiting: Array<(lease: Lease) => void> = [];
  readonly #keys = new Map<string, OpenedKey>();
  #closed = false;

  /**
   * Loads the module, finds the token, opens the admin session and logs in.
   * @throws ConfigError naming KEYWARD_PKCS11_MODULE, _TOKEN_LABEL / _SLOT or the PIN's setting
   * @example const keys = Pkcs11KeyStore.open({ module: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'keyward', pin });
   */
  static open(options: Pkcs11Options): Pkcs11KeyStore {
    return new Pkcs11KeyStore(options);
  }

  private constructor(options: Pkcs11Options) {
    if (options.tokenLabel === undefined && options.slot === undefined)
      throw new TypeError('a PKCS#11 key store needs a token label or a slot');
    this.#o = { pinSetting: 'KEYWARD_PKCS11_PIN', sessions: 4, ...options };
    this.#p = new pkcs11js.PKCS11();
    try {
      this.#p.load(options.module);
    } catch (err) {
      throw new ConfigError(
        'KEYWARD_PKCS11_MODULE',
        `names ${options.module}, which could not be loaded as a PKCS#11 module (${(err as Error).message.split('\n')[0]})`,
      );
    }
    this.#initialize();
    try {
      this.#connect();
    } catch (err) {
      this.close();
      throw err;
    }
  }

  #initialize(): void {
    try {
      this.#p.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    } catch (err) {
      if (codeOf(err) !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw err;
    }
  }

  /** Finds the token, opens the admin session and logs in. */
  #connect(): void {
    const slots = this.#p.C_GetSlotList(true);
    const tokens = slots.map((slot) => ({ slot, label: trimmed(this.#p.C_GetTokenInfo(slot).label) }));
    const found =
      this.#o.tokenLabel !== undefined
        ? tokens.find((t) => t.label === this.#o.tokenLabel)
        : tokens.find((t) => slotIdOf(t.slot) === this.#o.slot);
    if (!found) {
      const seen = tokens.map((t) => `"${t.label}" (slot ${slotIdOf(t.slot)})`).join(', ') || 'none';
      if (this.#o.tokenLabel !== undefined)
        throw new ConfigError(
          'KEYWARD_PKCS11_TOKEN_LABEL',
          `names token "${this.#o.tokenLabel}", which the module does not show (tokens: ${seen})`,
        );
      throw new ConfigError('KEYWARD_PKCS11_SLOT', `names slot ${this.#o.slot}, which holds no token of the module (tokens: ${seen})`);
    }
    this.#slot = found.slot;
    this.#label = found.label;
    this.#admin = this.#openSession();
    this.#login(this.#admin);
  }

  #openSession(): Handle {
    return this.#p.C_OpenSession(this.#slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  }

  #login(session: Handle): void {
    try {
      this.#p.C_Login(session, pkcs11js.CKU_USER, this.#o.pin);
    } catch (err) {
      const code = codeOf(err);
      if (code === pkcs11js.CKR_USER_ALREADY_LOGGED_IN) return;
      if (code === pkcs11js.CKR_PIN_INCORRECT || code === pkcs11js.CKR_PIN_LEN_RANGE || code === pkcs11js.CKR_PIN_INVALID)
        throw new ConfigError(this.#o.pinSetting, `was refused by PKCS#11 token "${this.#label}" (${(err as Error).message})`);
      if (code === pkcs11js.CKR_PIN_LOCKED)
        throw new ConfigError(this.#o.pinSetting, `cannot log in: PKCS#11 token "${this.#label}" has locked its user PIN (CKR_PIN_LOCKED)`);
      throw err;
    }
  }

  /** The token's label, as key references name it. */
  get tokenLabel(): string {
    return this.#label;
  }

  /**
   * Recovers from what `err` says of the token, for a call made in
   * `generation`; false when the error is not one to recover from.
   */
  #recover(err: unknown, generation: number): boolean {
    const code = codeOf(err);
    if (code === undefined || this.#closed) return false;
    if (generation !== this.#generation) return true; // another call already recovered
    if (code === pkcs11js.CKR_USER_NOT_LOGGED_IN) {
      this.#login(this.#admin);
      return true;
    }
    if (HANDLE_STALE.has(code)) {
      this.#keys.clear();
      return true;
    }
    if (REOPEN.has(code)) {
      this.#generation++;
      this.#keys.clear();
      this.#free = [];
      this.#opened = 0;
      try {
        this.#admin = this.#openSession();
        this.#login(this.#admin);
        return true;
      } catch (again) {
        if (!RESET.has(codeOf(again) ?? -1)) throw again;
      }
    } else if (!RESET.has(code)) return false;
    // The token went away or the module lost its state: start it again and find the token by its label.
    this.#generation++;
    this.#keys.clear();
    this.#free = [];
    this.#opened = 0;
    try {
      this.#p.C_Finalize();
    } catch {
      // already finalized
    }
    this.#initialize();
    this.#connect();
    return true;
  }

  /** Runs a synchronous call on the admin session, recovering once. */
  #sync<T>(fn: (session: Handle) => T): T {
    for (let attempt = 0; ; attempt++) {
      const generation = this.#generation;
      try {
        return fn(this.#admin);
      } catch (err) {
        if (attempt >= 2 || !this.#recover(err, generation)) throw this.#unavailable(err);
      }
    }
  }

  #acquire(): Promise<Lease> | Lease {
    if (this.#closed) throw new KeywardError('ca.key_unavailable', 'The PKCS#11 key store is closed');
    const session = this.#free.pop();
    if (session) return { session, generation: this.#generation };
    if (this.#opened < this.#o.sessions) {
      this.#opened++;
      const generation = this.#generation;
      try {
        return { session: this.#openSession(), generation };
      } catch (err) {
        this.#opened--;
        throw err;
      }
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(lease: Lease): void {
    if (lease.generation !== this.#generation || this.#closed) {
      try {
        this.#p.C_CloseSession(lease.session);
      } catch {
        // gone with its generation
      }
      if (lease.generation === this.#generation) this.#opened--;
      const next = this.#waiting.shift();
      if (next) {
        // a waiter of an old generation gets a session of the new one
        Promise.resolve(this.#acquire()).then(next, () => this.#waiting.unshift(next));
      }
      return;
    }
    const next = this.#waiting.shift();
    if (next) next(lease);
    else this.#free.push(lease.session);
  }

  /** Runs an asynchronous call on a pooled session, recovering once. */
  async #pooled<T>(fn: (session: Handle, generation: number) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let lease: Lease;
      try {
        lease = await this.#acquire();
      } catch (err) {
        if (attempt >= 2 || !this.#recover(err, this.#generation)) throw this.#unavailable(err);
        continue;
      }
      try {
        return await fn(lease.session, lease.generation);
      } catch (err) {
        if (attempt >= 2 || !this.#recover(err, lease.generation)) throw this.#unavailable(err);
      } finally {
        this.#release(lease);
      }
    }
  }

  #unavailable(err: unknown): unknown {
    if (err instanceof KeywardError || err instanceof ConfigError || err instanceof TypeError) return err;
    return new KeywardError('ca.key_unavailable', `The PKCS#11 token "${this.#label}" could not sign: ${(err as Error).message}`, {
      cause: err,
    });
  }

  #find(session: Handle, cls: number, id: string): Handle | undefined {
    this.#p.C_FindObjectsInit(session, [
      { type: pkcs11js.CKA_CLASS, value: cls },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_ID, value: pkcs11IdOf(id) },
    ]);
    try {
      return this.#p.C_FindObjects(session, 2)[0];
    } finally {
      this.#p.C_FindObjectsFinal(session);
    }
  }

  /** The private key's handle in this generation, found once. */
  #privateKey(id: string): OpenedKey {
    const known = this.#keys.get(id);
    if (known && known.generation === this.#generation) return known;
    return this.#sync((session) => {
      let privateKey = this.#find(session, pkcs11js.CKO_PRIVATE_KEY, id);
      if (!privateKey) {
        // Private objects are invisible to a logged-out application: log in (again) and look once more.
        this.#login(session);
        privateKey = this.#find(session, pkcs11js.CKO_PRIVATE_KEY, id);
      }
      if (!privateKey) throw new TypeError(`PKCS#11 token "${this.#label}" holds no private key with id ${id}`);
      const opened = { privateKey, generation: this.#generation };
      this.#keys.set(id, opened);
      return opened;
    });
  }

  /** The public key of `id`, read from the token's public-key object. */
  #publicKey(id: string): KeyObject {
    return this.#sync((session) => {
      const pub = this.#find(session, pkcs11js.CKO_PUBLIC_KEY, id);
      if (!pub) throw new TypeError(`PKCS#11 token "${this.#label}" holds no public key with id ${id}`);
      const [type] = this.#p.C_GetAttributeValue(session, pub, [{ type: pkcs11js.CKA_KEY_TYPE }]);
      const keyType = type!.value.readUInt32LE(0);
      if (keyType === pkcs11js.CKK_EC) {
        const [params, point] = this.#p.C_GetAttributeValue(session, pub, [
          { type: pkcs11js.CKA_EC_PARAMS },
          { type: pkcs11js.CKA_EC_POINT },
        ]);
        const curve = CURVE_OF_PARAMS[params!.value.toString('hex')];
        if (!curve) throw new TypeError(`the key ${id} in PKCS#11 token "${this.#label}" is on a curve Keyward does not run CAs on`);
        let q = point!.value;
        // Most tokens (SoftHSM among them) wrap the point in a DER OCTET STRING, as PKCS#11 2.40 §2.3.3 says.
        if (q[0] === 0x04 && q.length === q[1]! + 2 && q.length === 2 * curve.size + 3) q = q.subarray(2);
        if (q[0] !== 0x04 || q.length !== 2 * curve.size + 1) throw new TypeError(`the key ${id} has an EC point Keyward cannot read`);
        const x = q.subarray(1, 1 + curve.size);
        const y = q.subarray(1 + curve.size);
        return createPublicKey({ key: { kty: 'EC', crv: curve.crv, x: b64url(x), y: b64url(y) }, format: 'jwk' });
      }
      if (keyType === pkcs11js.CKK_RSA) {
        const [n, e] = this.#p.C_GetAttributeValue(session, pub, [{ type: pkcs11js.CKA_MODULUS }, { type: pkcs11js.CKA_PUBLIC_EXPONENT }]);
        return createPublicKey({ key: { kty: 'RSA', n: b64url(n!.value), e: b64url(e!.value) }, format: 'jwk' });
      }
      throw new TypeError(`the key ${id} in PKCS#11 token "${this.#label}" is neither EC nor RSA`);
    });
  }

  #signer(id: string): CaSigner {
    const publicKey = this.#publicKey(id);
    const keyType = keyTypeOf(publicKey);
    const algorithm = signatureAlgorithmFor(keyType);
    const ec = keyType.startsWith('EC-');
    const mechanism = { mechanism: ec ? pkcs11js.CKM_ECDSA : pkcs11js.CKM_RSA_PKCS };
    const size = ec ? 2 * (keyType === 'EC-P256' ? 32 : 48) : (publicKey.asymmetricKeyDetails?.modulusLength ?? 4096) / 8;
    this.#privateKey(id); // present now, or TypeError
    return Object.freeze({
      keyType,
      algorithm,
      spki: spkiOf(publicKey),
      sign: async (data: Uint8Array): Promise<Uint8Array> => {
        const digest = createHash(algorithm.hash).update(data).digest();
        const input = ec ? digest : Buffer.concat([DIGEST_INFO[algorithm.hash]!, digest]);
        const signature = await this.#pooled(async (session) => {
          const { privateKey } = this.#privateKey(id);
          this.#p.C_SignInit(session, mechanism, privateKey);
          return this.#p.C_SignAsync(session, input, Buffer.alloc(size));
        });
        return ec ? ecdsaRawToDer(signature) : new Uint8Array(signature);
      },
    });
  }

  async generate(o: { readonly id: string; readonly keyType: CaKeyType }): Promise<{ signer: CaSigner; ref: CaKeyRef }> {
    if (!isCaKeyType(o.keyType)) throw new TypeError(`unsupported CA key type ${String(o.keyType)}`);
    const id = pkcs11IdOf(o.id);
    const common = [
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_LABEL, value: o.id },
      { type: pkcs11js.CKA_ID, value: id },
    ];
    const ec = o.keyType.startsWith('EC-');
    const publicTemplate = [
      ...common,
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
      { type: pkcs11js.CKA_PRIVATE, value: false },
      { type: pkcs11js.CKA_VERIFY, value: true },
      ...(ec
        ? [{ type: pkcs11js.CKA_EC_PARAMS, value: CURVE_PARAMS[o.keyType]! }]
        : [
            { type: pkcs11js.CKA_MODULUS_BITS, value: Number(o.keyType.slice(4)) },
            { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
          ]),
    ];
    const privateTemplate = [
      ...common,
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      { type: pkcs11js.CKA_SIGN, value: true },
    ];
    const mechanism = { mechanism: ec ? pkcs11js.CKM_EC_KEY_PAIR_GEN : pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN };
    if (this.#sync((s) => this.#find(s, pkcs11js.CKO_PRIVATE_KEY, o.id)))
      throw new TypeError(`PKCS#11 token "${this.#label}" already holds a key with id ${o.id}`);
    await this.#pooled((session) => this.#p.C_GenerateKeyPairAsync(session, mechanism, publicTemplate, privateTemplate));
    return { signer: this.#signer(o.id), ref: { store: 'pkcs11', token: this.#label, id: o.id } };
  }

  open(ref: CaKeyRef): CaSigner {
    if (ref.store !== 'pkcs11') throw new TypeError(`a ${ref.store} CA key cannot be opened by the PKCS#11 key store`);
    if (ref.token !== this.#label)
      throw new TypeError(`this CA's key is in PKCS#11 token "${ref.token}", but the configured token is "${this.#label}"`);
    return this.#signer(ref.id);
  }

  /** Destroys a key this store generated (a CA that lost a creation race to another replica). */
  async discard(ref: CaKeyRef): Promise<void> {
    if (ref.store !== 'pkcs11' || ref.token !== this.#label) return;
    this.#keys.delete(ref.id);
    this.#sync((session) => {
      for (const cls of [pkcs11js.CKO_PRIVATE_KEY, pkcs11js.CKO_PUBLIC_KEY]) {
        const h = this.#find(session, cls, ref.id);
        if (h) this.#p.C_DestroyObject(session, h);
      }
    });
  }

  /** Logs out and closes the sessions and the module. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#p.C_Finalize(); // closes every session (and so logs out)
    } catch {
      // not initialised
    }
    try {
      this.#p.close();
    } catch {
      // already unloaded
    }
  }
}
