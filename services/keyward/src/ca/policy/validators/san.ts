import { KeywardError } from '../../../kernel/errors.ts';
import type { Sans } from '../../san.ts';
import { sanMatcher } from '../matching.ts';
import type { Policy } from '../policy.ts';

const refuse = (kind: string, value: string, label: string): never => {
  throw new KeywardError('policy.san_not_allowed', `${label} ${value} is not allowed by the policy`, {
    extras: { san: `${kind}:${value}` },
  });
};

/**
 * Every requested subject alternative name must match the policy's list of
 * its kind (see ../matching.ts for the rules; an empty list allows none).
 * @example validateSans(policy, { dns: ['api.apps.example.internal'], ip: [], uri: [], email: [] })
 * @throws KeywardError policy.san_not_allowed (extras.san is `kind:value`)
 */
export function validateSans(policy: Policy, sans: Sans): void {
  const m = sanMatcher(policy);
  for (const v of sans.dns) if (!m.dns(v)) refuse('dns', v, 'DNS name');
  for (const v of sans.ip) if (!m.ip(v)) refuse('ip', v, 'IP address');
  for (const v of sans.uri) if (!m.uri(v)) refuse('uri', v, 'URI');
  for (const v of sans.email) if (!m.email(v)) refuse('email', v, 'E-mail address');
}
