/**
 * ISO 8601 durations (ISO 8601-1:2019 §5.5.2, the subset with a fixed
 * length): `P90D`, `PT24H`, `PT2M`, `P1DT12H`, `P2W`, `PT30S`. Years and
 * months are refused — their length depends on the calendar — as are
 * fractions and negative values. Certificate validities (policies'
 * `maxValidity`, requests' `validity`) and the CLI's renewal thresholds use it.
 */
import { KeywardError } from './errors.ts';

const FORM = /^P(?:(\d+)W|(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?)$/;

/** The JSON Schema pattern of the forms {@link parseDuration} accepts. */
export const DURATION_PATTERN = '^P(\\d+W|(\\d+D)?(T(\\d+H)?(\\d+M)?(\\d+S)?)?)$';

/**
 * The length of an ISO 8601 duration, in seconds.
 * @example parseDuration('P1DT12H') // 129600
 * @throws KeywardError validity.malformed (extras.value) for anything else
 */
export function parseDuration(text: string): number {
  const m = typeof text === 'string' ? FORM.exec(text) : null;
  if (!m || text === 'P' || text.endsWith('T')) {
    const hint =
      typeof text === 'string' && /^P(\d+Y|\d+M|.*T.*[.,])/.test(text) ? ' (years, months and fractions have no fixed length)' : '';
    throw new KeywardError(
      'validity.malformed',
      `"${String(text)}" is not an ISO 8601 duration such as PT24H, PT2M, P90D or P1DT12H${hint}`,
      { extras: { value: String(text) } },
    );
  }
  const [, w, d, h, min, s] = m.map((x) => (x === undefined ? 0 : Number(x)));
  return w! * 604_800 + d! * 86_400 + h! * 3_600 + min! * 60 + s!;
}

/**
 * The shortest ISO 8601 form of a length in whole seconds.
 * @example formatDuration(129600) // 'P1DT12H'
 */
export function formatDuration(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 0) throw new TypeError('formatDuration takes a whole, non-negative number of seconds');
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3_600);
  const m = Math.floor((seconds % 3_600) / 60);
  const s = seconds % 60;
  const time = `${h ? `${h}H` : ''}${m ? `${m}M` : ''}${s ? `${s}S` : ''}`;
  if (!d && !time) return 'PT0S';
  return `P${d ? `${d}D` : ''}${time ? `T${time}` : ''}`;
}
