import { KeywardError } from '../../../kernel/errors.ts';
import { attributeValueProblem, type NameAttribute } from '../../name.ts';
import { isDnsName, sanMatcher } from '../matching.ts';
import type { Policy } from '../policy.ts';

const refuse = (detail: string, attribute: string): never => {
  throw new KeywardError('policy.subject_not_allowed', detail, { extras: { attribute } });
};

/**
 * The subject may hold only the attributes the policy allows and must hold
 * every one it requires; each value must fit its type (RFC 5280 Appendix A
 * bounds, a two-letter country code). A CN that is a host name is a name
 * TLS clients still match on (RFC 6125 §6.4.4), so it must also be allowed by
 * the policy's DNS patterns — otherwise a policy without DNS names could be
 * used to certify any host through the CN.
 * @example validateSubject(policy, [{ type: 'CN', value: 'api.apps.example.internal' }])
 * @throws KeywardError policy.subject_not_allowed (extras.attribute names the attribute)
 */
export function validateSubject(policy: Policy, subject: readonly NameAttribute[]): void {
  const allowed = policy.subject.allowed as readonly string[];
  for (const a of subject) {
    if (!allowed.includes(a.type))
      refuse(`Subject attribute ${a.type} is not allowed by the policy (allowed: ${allowed.join(', ') || 'none'})`, a.type);
    const problem = attributeValueProblem(a);
    if (problem) refuse(`Subject attribute ${a.type} ${problem}`, a.type);
  }
  for (const r of policy.subject.required) {
    if (!subject.some((a) => a.type === r)) refuse(`The policy requires a subject ${r}`, r);
  }
  for (const a of subject) {
    if (a.type === 'CN' && a.value.includes('.') && isDnsName(a.value) && !sanMatcher(policy).dns(a.value)) {
      refuse(`Subject CN ${a.value} is a host name outside the policy's DNS names`, 'CN');
    }
  }
}
