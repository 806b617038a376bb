/**
 * Deep freezing: values the process caches by object identity (parsed
 * policies, configuration) must not change after they are handed out.
 */

/**
 * Freezes `value` and everything reachable from it, in place; returns it.
 * @example const policy = deepFreeze(structuredClone(document));
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
