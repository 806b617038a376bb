/** The expiry figures of the store as Prometheus gauges, per realm and policy. */
import type { ExpiryFigures } from '../storage/certificate_stats.ts';
import type { GaugeFamily } from './metrics.ts';

/** The windows of keyward_certificates_expiring, in days. */
export const EXPIRY_WINDOWS_DAYS = [7, 30] as const;

/** How long one reading of the store serves scrapes (the figures are at most this old). */
export const EXPIRY_METRICS_CACHE_MS = 5_000;

export function expiryFamilies(figures: readonly ExpiryFigures[], queryMs: number): GaugeFamily[] {
  const by = (f: ExpiryFigures) => ({ realm: f.realm, policy: f.policy });
  return [
    {
      name: 'keyward_certificates',
      help: 'Certificates stored, by realm, policy and status (valid, revoked, expired)',
      samples: figures.flatMap((f) =>
        (['valid', 'revoked', 'expired'] as const).map((status) => ({ labels: { ...by(f), status }, value: f[status] })),
      ),
    },
    {
      name: 'keyward_certificates_expiring',
      help: 'Valid certificates expiring within the window (7d, 30d), by realm and policy',
      samples: figures.flatMap((f) =>
        EXPIRY_WINDOWS_DAYS.map((d) => ({ labels: { ...by(f), within: `${d}d` }, value: f.expiringWithin[d] ?? 0 })),
      ),
    },
    {
      name: 'keyward_certificate_earliest_expiry_timestamp_seconds',
      help: 'notAfter (Unix seconds) of the valid certificate that expires first, by realm and policy',
      samples: figures
        .filter((f) => f.earliestExpiry)
        .map((f) => ({ labels: by(f), value: Math.floor(f.earliestExpiry!.getTime() / 1000) })),
    },
    {
      name: 'keyward_certificate_metrics_query_seconds',
      help: 'Time the store took to compute the certificate figures above (read at most every 5 s)',
      samples: [{ labels: {}, value: queryMs / 1000 }],
    },
  ];
}
