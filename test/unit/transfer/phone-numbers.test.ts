import '../../helpers/setup-env';
import { formatPhoneNumber, maskPhoneNumber } from '../../../lambda/transfer/phone-numbers';

describe('formatPhoneNumber', () => {
  it.each([
    ['+1 (415) 555-0100', '+14155550100'],
    ['(415) 555-0100', '+14155550100'],
    ['14155550100', '+14155550100'],
    ['0044 20 7946 0958', '+442079460958'],
    ['+44 20 7946 0958', '+442079460958'],
  ])('normalises %s to %s', (raw, expected) => {
    expect(formatPhoneNumber(raw)).toBe(expected);
  });

  it('uses the given default country code for national numbers', () => {
    expect(formatPhoneNumber('2079460958', '44')).toBe('+442079460958');
  });

  it.each([undefined, '', 'client:alice', '12345', '+1234567', '+1234567890123456'])(
    'answers undefined for %p',
    (raw) => {
      expect(formatPhoneNumber(raw)).toBeUndefined();
    },
  );
});

describe('maskPhoneNumber', () => {
  it('keeps the first digit and the last two', () => {
    expect(maskPhoneNumber('+14155550100')).toBe('+1********00');
    expect(maskPhoneNumber('4155550100')).toBe('4*******00');
  });

  it('masks short numbers entirely and passes nothing through for empty input', () => {
    expect(maskPhoneNumber('1234')).toBe('****');
    expect(maskPhoneNumber(undefined)).toBeUndefined();
  });

  it('never shows the middle digits', () => {
    expect(maskPhoneNumber('+14155550100')).not.toContain('555');
  });
});
