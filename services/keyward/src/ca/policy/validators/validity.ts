import { formatDuration } from '../../../kernel/duration.ts';
import { KeywardError } from '../../../kernel/errors.ts';
import { describeMaxValidity, maxValiditySeconds, MIN_VALIDITY_SECONDS, type Policy } from '../policy.ts';

/**
 * The requested validity, in whole seconds, must be at least one minute and
 * at most the policy's maximum (maxValidity, or maxValidityDays).
 * @example validateValidity(policy, 30 * 86_400)
 * @throws KeywardError policy.validity_exceeded (extras.requested, extras.maximum: days for a
 *   policy in days, ISO 8601 durations otherwise), validity.too_short (under a minute),
 *   request.malformed for a validity that is not a whole number of seconds (extras.path `/validity`)
 */
export function validateValidity(policy: Policy, validitySeconds: number): void {
  if (typeof validitySeconds !== 'number' || !Number.isInteger(validitySeconds)) {
    throw new KeywardError('request.malformed', `The validity must be a whole number of seconds, not ${String(validitySeconds)}`, {
      extras: { path: '/validity' },
    });
  }
  if (validitySeconds < MIN_VALIDITY_SECONDS) {
    throw new KeywardError(
      'validity.too_short',
      `A validity of ${validitySeconds < 0 ? validitySeconds : formatDuration(validitySeconds)} is shorter than one minute (PT1M)`,
      { extras: { path: '/validity', minimum: 'PT1M' } },
    );
  }
  const max = maxValiditySeconds(policy);
  if (validitySeconds > max) {
    const inDays = policy.maxValidity === undefined;
    throw new KeywardError(
      'policy.validity_exceeded',
      `A validity of ${inDays && validitySeconds % 86_400 === 0 ? `${validitySeconds / 86_400} days` : formatDuration(validitySeconds)}` +
        ` exceeds the policy maximum of ${describeMaxValidity(policy)}`,
      {
        extras: inDays
          ? { requested: validitySeconds / 86_400, maximum: policy.maxValidityDays }
          : { requested: formatDuration(validitySeconds), maximum: policy.maxValidity },
      },
    );
  }
}

/**
 * {@link validateValidity} for a validity in whole days (users' client
 * certificates ask in days).
 * @example validateValidityDays(policy, 30)
 * @throws KeywardError policy.validity_exceeded, request.malformed for a validity that is not a
 *   positive whole number of days (extras.path `/validityDays`)
 */
export function validateValidityDays(policy: Policy, validityDays: number): void {
  if (typeof validityDays !== 'number' || !Number.isInteger(validityDays) || validityDays < 1) {
    throw new KeywardError('request.malformed', `validityDays must be a positive whole number of days, not ${String(validityDays)}`, {
      extras: { path: '/validityDays' },
    });
  }
  validateValidity(policy, validityDays * 86_400);
}
