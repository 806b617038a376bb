/** Time as a port, so expiry logic is tested with a frozen clock. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that stands still until moved; for tests. */
export function frozenClock(at: Date | string): Clock & { advance(ms: number): void; set(d: Date | string): void } {
  let t = new Date(at).getTime();
  return {
    now: () => new Date(t),
    advance: (ms: number) => {
      t += ms;
    },
    set: (d: Date | string) => {
      t = new Date(d).getTime();
    },
  };
}
