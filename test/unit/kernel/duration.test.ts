import { expect } from 'chai';
import { formatDuration, parseDuration } from '../../../services/keyward/src/kernel/duration.ts';
import { KeywardError } from '../../../services/keyward/src/kernel/errors.ts';

describe('ISO 8601 durations', () => {
  const good: Array<[string, number]> = [
    ['PT24H', 86_400],
    ['PT2M', 120],
    ['P90D', 90 * 86_400],
    ['P1DT12H', 129_600],
    ['PT1H30M', 5_400],
    ['PT45S', 45],
    ['P2W', 14 * 86_400],
    ['P1DT2H3M4S', 86_400 + 7_200 + 180 + 4],
    ['PT0S', 0],
  ];
  for (const [text, seconds] of good) {
    it(`reads ${text} as ${seconds} s`, () => expect(parseDuration(text)).to.equal(seconds));
  }

  const bad = ['', 'P', 'PT', '24H', 'pt24h', 'P1Y', 'P3M', 'PT1.5H', 'PT-1M', 'P1H', 'P1D12H', 'PT1H ', ' PT1H', 'P1W2D', 'P1DT', '90'];
  for (const text of bad) {
    it(`refuses ${JSON.stringify(text)} with validity.malformed`, () => {
      let err: unknown;
      try {
        parseDuration(text);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(KeywardError);
      expect((err as KeywardError).code).to.equal('validity.malformed');
      expect((err as KeywardError).extras).to.deep.equal({ value: text });
    });
  }

  it('says why years and months are refused', () => {
    expect(() => parseDuration('P1Y')).to.throw(/years, months and fractions have no fixed length/);
  });

  it('refuses what is not a string', () => {
    expect(() => parseDuration(90 as unknown as string)).to.throw(KeywardError, /not an ISO 8601 duration/);
  });

  const canonical: Array<[number, string]> = [
    [86_400, 'P1D'],
    [129_600, 'P1DT12H'],
    [120, 'PT2M'],
    [121, 'PT2M1S'],
    [0, 'PT0S'],
    [90 * 86_400, 'P90D'],
  ];
  for (const [seconds, text] of canonical) {
    it(`writes ${seconds} s as ${text}, which reads back`, () => {
      expect(formatDuration(seconds)).to.equal(text);
      expect(parseDuration(text)).to.equal(seconds);
    });
  }
  it('refuses to format a fraction (misuse)', () => expect(() => formatDuration(1.5)).to.throw(TypeError));
});
