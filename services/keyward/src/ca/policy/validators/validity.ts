import { KeywardError } from '../../../kernel/errors.ts';
import type { Policy } from '../policy.ts';

/**
 * The requested validity, in whole days, must be positive and at most the
 * policy's maximum.
 * @example validateValidity(policy, 30)
 * @throws KeywardError policy.validity_exceeded (extras.maximum), request.malformed for a
 *   validity that is not a positive whole number of days (extras.path `/validityDays`)
 */
export function validateValidity(policy: Policy, validityDays: number): void {
  if (typeof validityDays !== 'number' || !Number.isInteger(validityDays) || validityDays < 1) {
    throw new KeywardError('request.malformed', `validityDays must be a positive whole number of days, not ${String(validityDays)}`, {
      extras: { path: '/validityDays' },
    });
  }
  if (validityDays > policy.maxValidityDays) {
    throw new KeywardError(
      'policy.validity_exceeded',
      `A validity of ${validityDays} days exceeds the policy maximum of ${policy.maxValidityDays} days`,
      {
        extras: { requested: validityDays, maximum: policy.maxValidityDays },
      },
    );
  }
}
