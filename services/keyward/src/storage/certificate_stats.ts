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
    const whole = bounds.map((_, i) => `sum(n) FILTER (WHERE status = 'valid' AND expiry_bucket < $${i + 1}) AS w${i}`);
    const totals = (
      await this.#db.query(
        `SELECT realm, policy, sum(n) FILTER (WHERE status = 'revoked') AS revoked, sum(n) FILTER (WHERE status = 'valid') AS stored,
                ${whole.join(', ')}
           FROM ${COUNTS} c GROUP BY realm, policy ORDER BY realm, policy`,
        bounds.map(dayOf),
      )
    ).rows;
    // The boundary days, exactly: valid certificates of the day cut by each bound, up to it.
    const partial = await Promise.all(
      bounds.map(async (b) => {
        const rows = (
          await this.#db.query<{ realm: string; policy: string; n: string }>(
            `SELECT realm, policy, count(*) AS n FROM certificates
              WHERE status = 'valid' AND not_after >= $1 AND not_after <= $2 GROUP BY realm, policy`,
            [dayOf(b), b],
          )
        ).rows;
        return new Map(rows.map((r) => [key(r.realm, r.policy), Number(r.n)]));
      }),
    );
    // Earliest expiry: in the first two days from today that hold valid certificates (the first may hold only expired ones).
    const earliest = new Map(
      (
        await this.#db.query<{ realm: string; policy: string; earliest: Date | null }>(
          `WITH f AS (SELECT realm, policy, expiry_bucket, row_number() OVER (PARTITION BY realm, policy ORDER BY expiry_bucket) AS rn
                        FROM ${COUNTS} c WHERE status = 'valid' AND expiry_bucket >= $2),
                e AS (SELECT realm, policy, max(expiry_bucket) + interval '1 day' AS until FROM f WHERE rn <= 2 GROUP BY 1, 2)
           SELECT e.realm, e.policy,
                  (SELECT min(not_after) FROM certificates x WHERE x.status = 'valid' AND x.not_after > $1 AND x.not_after < e.until
                      AND x.realm = e.realm AND x.policy = e.policy) AS earliest
             FROM e`,
          [now, dayOf(now)],
        )
      ).rows.map((r) => [key(r.realm, r.policy), r.earliest ?? undefined]),
    );
    return totals.map((t) => {
      const k = key(t.realm, t.policy);
      const upTo = bounds.map((_, i) => Number(t[`w${i}`] ?? 0) + (partial[i]!.get(k) ?? 0));
      const expired = upTo[0]!;
      return {
        realm: t.realm,
        policy: t.policy,
        valid: Number(t.stored ?? 0) - expired,
        revoked: Number(t.revoked ?? 0),
        expired,
        expiringWithin: Object.fromEntries(days.map((d, i) => [d, upTo[i + 1]! - expired])),
        earliestExpiry: earliest.get(k),
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
