/**
 * Counts behind the expiry metrics, and the certificate.expiring sweep.
 *
 * The metrics never read the certificates table end to end: migration 021
 * keeps the number of certificates per realm, policy, status and expiry day
 * (certificate_counts, plus the deltas its triggers append); a scrape sums
 * those (a few rows per realm, policy and day) and reads exactly only the
 * certificates of the days cut by a boundary (now, now + 7 d, now + 30 d),
 * through the partial index on valid certificates' expiry.
 */
import { recordEvent } from '../events/outbox.ts';
import type { Database } from './database.ts';

export interface ExpiryFigures {
  readonly realm: string;
  readonly policy: string;
  /** Valid and not expired. */
  readonly valid: number;
  readonly revoked: number;
  /** Valid status, past notAfter. */
  readonly expired: number;
  /** Not expired, expiring within each window (days → count). */
  readonly expiringWithin: Readonly<Record<number, number>>;
  /** The earliest notAfter among the not expired, valid certificates. */
  readonly earliestExpiry: Date | undefined;
}

const DAY_MS = 86_400_000;
/** The start of the UTC day of `t` (migration 021's keyward_expiry_bucket). */
const dayOf = (t: Date) => new Date(Math.floor(t.getTime() / DAY_MS) * DAY_MS);
const key = (realm: string, policy: string) => `${realm}\0${policy}`;

/** The counts as they stand: the folded rows and the deltas not folded yet. */
const COUNTS = `(SELECT realm, policy, status, expiry_bucket, sum(n) AS n FROM (
    SELECT realm, policy, status, expiry_bucket, n FROM certificate_counts
    UNION ALL SELECT realm, policy, status, expiry_bucket, n FROM certificate_count_deltas) x
  GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0)`;

/** The valid certificates of bound `i`'s day up to the bound (parameters 2i+1 and 2i+2). */
const boundaryDay = (i: number) =>
  `SELECT ${i} AS i, realm, policy FROM certificates WHERE status = 'valid' AND not_after >= $${2 * i + 1} AND not_after <= $${2 * i + 2}`;

export class PgCertificateStats {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  /** Folds the deltas into certificate_counts (one transaction; safe from several replicas at once). */
  async fold(): Promise<number> {
    return this.#db.tx(async (q) => {
      const r = await q.query(
        `WITH d AS (DELETE FROM certificate_count_deltas RETURNING *),
              s AS (SELECT realm, policy, status, expiry_bucket, sum(n) AS n FROM d GROUP BY 1, 2, 3, 4)
         INSERT INTO certificate_counts (realm, policy, status, expiry_bucket, n) SELECT * FROM s
         ON CONFLICT (realm, policy, status, expiry_bucket) DO UPDATE SET n = certificate_counts.n + EXCLUDED.n`,
      );
      await q.query('DELETE FROM certificate_counts WHERE n = 0');
      return r.rowCount ?? 0;
    });
  }

  /**
   * Figures per realm and policy at `now`, for the windows `days` (e.g. [7, 30]).
   * Cost: the count rows, plus the valid certificates expiring on the boundary days.
   */
  async expiry(now: Date, days: readonly number[]): Promise<ExpiryFigures[]> {
    const bounds = [now, ...days.map((d) => new Date(now.getTime() + d * DAY_MS))];
    const [counts, partial] = await Promise.all([
      this.#db.query<{ realm: string; policy: string; status: string; expiry_bucket: Date; n: string }>(
        `SELECT realm, policy, status, expiry_bucket, n FROM ${COUNTS} c`,
      ),
      // The boundary days, exactly: valid certificates of the day cut by each bound, up to it. One index-only range scan
      // per bound (an OR of the ranges would read the table's pages through a bitmap instead).
      this.#db.query<{ i: number; realm: string; policy: string; n: string }>(
        `SELECT i, realm, policy, count(*) AS n FROM (${bounds.map((_, i) => boundaryDay(i)).join(' UNION ALL ')}) b
          GROUP BY i, realm, policy`,
        bounds.flatMap((b) => [dayOf(b), b]),
      ),
    ]);
    interface Acc {
      realm: string;
      policy: string;
      stored: number;
      revoked: number;
      upTo: number[];
      /** The first two days from today holding valid certificates. */
      next: number[];
    }
    const keys = new Map<string, Acc>();
    const dayBounds = bounds.map((b) => dayOf(b).getTime());
    const today = dayBounds[0]!;
    for (const r of counts.rows) {
      const k = key(r.realm, r.policy);
      let a = keys.get(k);
      if (!a) keys.set(k, (a = { realm: r.realm, policy: r.policy, stored: 0, revoked: 0, upTo: bounds.map(() => 0), next: [] }));
      const n = Number(r.n);
      if (r.status === 'revoked') {
        a.revoked += n;
        continue;
      }
      a.stored += n;
      const day = r.expiry_bucket.getTime();
      dayBounds.forEach((d, i) => {
        if (day < d) a.upTo[i]! += n;
      });
      if (day >= today && n > 0) a.next = [...a.next, day].sort((x, y) => x - y).slice(0, 2);
    }
    for (const r of partial.rows) {
      const a = keys.get(key(r.realm, r.policy));
      if (a) a.upTo[r.i]! += Number(r.n);
    }
    // Earliest expiry: within those two days (the first may hold only certificates expired earlier today).
    const probe = [...keys.values()].filter((a) => a.next.length);
    const earliest = new Map(
      probe.length === 0
        ? []
        : (
            await this.#db.query<{ realm: string; policy: string; earliest: Date | null }>(
              `SELECT e.realm, e.policy,
                      (SELECT min(not_after) FROM certificates x WHERE x.status = 'valid' AND x.not_after > $1 AND x.not_after < e.until
                          AND x.realm = e.realm AND x.policy = e.policy) AS earliest
                 FROM unnest($2::text[], $3::text[], $4::timestamptz[]) AS e (realm, policy, until)`,
              [now, probe.map((a) => a.realm), probe.map((a) => a.policy), probe.map((a) => new Date(a.next.at(-1)! + DAY_MS))],
            )
          ).rows.map((r) => [key(r.realm, r.policy), r.earliest ?? undefined] as const),
    );
    return [...keys.values()]
      .sort((x, y) => (x.realm === y.realm ? x.policy.localeCompare(y.policy) : x.realm.localeCompare(y.realm)))
      .map((a) => {
        const expired = a.upTo[0]!;
        return {
          realm: a.realm,
          policy: a.policy,
          valid: a.stored - expired,
          revoked: a.revoked,
          expired,
          expiringWithin: Object.fromEntries(days.map((d, i) => [d, a.upTo[i + 1]! - expired])),
          earliestExpiry: earliest.get(key(a.realm, a.policy)),
        };
      });
  }

  /**
   * Records certificate.expiring for up to `max` valid certificates that entered a threshold (days, largest first) and
   * were not told of it yet: one event per certificate, for the smallest threshold it is within, and a notice for
   * every threshold it is within, so that none is sent twice. Returns how many events it recorded.
   */
  async sweepExpiring(now: Date, thresholdsDays: readonly number[], max = 1000): Promise<number> {
    if (!thresholdsDays.length) return 0;
    const largest = Math.max(...thresholdsDays);
    return this.#db.tx(async (q) => {
      const due = (
        await q.query<{ serial: string; realm: string; policy: string; subject: string; not_after: Date }>(
          `SELECT c.serial, c.realm, c.policy, c.subject, c.not_after FROM certificates c
            WHERE c.status = 'valid' AND c.not_after > $1 AND c.not_after <= $1::timestamptz + make_interval(days => $2)
              AND EXISTS (SELECT 1 FROM unnest($3::int[]) t
                           WHERE c.not_after <= $1::timestamptz + make_interval(days => t)
                             AND NOT EXISTS (SELECT 1 FROM certificate_expiry_notices n WHERE n.serial = c.serial AND n.threshold_days = t))
            ORDER BY c.not_after LIMIT $4`,
          [now, largest, thresholdsDays, max],
        )
      ).rows;
      let recorded = 0;
      for (const c of due) {
        const within = thresholdsDays.filter((t) => c.not_after.getTime() <= now.getTime() + t * DAY_MS);
        const fresh = (
          await q.query<{ threshold_days: number }>(
            `INSERT INTO certificate_expiry_notices (serial, threshold_days, at) SELECT $1, t, $3 FROM unnest($2::int[]) t
             ON CONFLICT DO NOTHING RETURNING threshold_days`,
            [c.serial, within, now],
          )
        ).rows;
        if (!fresh.length) continue;
        const thresholdDays = Math.min(...within);
        await recordEvent(
          q,
          {
            type: 'certificate.expiring',
            realm: c.realm,
            subject: c.serial,
            data: { serialNumber: c.serial, subject: c.subject, policy: c.policy, notAfter: c.not_after.toISOString(), thresholdDays },
          },
          now,
        );
        recorded++;
      }
      return recorded;
    });
  }
}
