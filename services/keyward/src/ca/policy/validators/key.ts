import { KeywardError } from '../../../kernel/errors.ts';
import type { Policy } from '../policy.ts';

/**
 * The certified key must be of a type and size the policy lists. Weak keys
 * (RSA-1024, an exponent other than 65537, curves we do not name) never match,
 * because their key type is a string no policy can contain.
 * @example validateKey(policy, csr.keyType)
 * @throws KeywardError policy.key_not_allowed
 */
export function validateKey(policy: Policy, keyType: string): void {
  if (!(policy.keyTypes as readonly string[]).includes(keyType)) {
    throw new KeywardError(
      'policy.key_not_allowed',
      `Key type ${keyType} is not allowed by the policy (allowed: ${policy.keyTypes.join(', ')})`,
      {
        extras: { keyType, allowed: policy.keyTypes },
      },
    );
  }
}
