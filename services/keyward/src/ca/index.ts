export { parsePolicy, policyJsonSchema, isCidr, KEY_TYPES, KEY_USAGES, EXTENDED_KEY_USAGES, type Policy, type KeyType } from './policy/policy.ts';
