/**
 * The backfill's `--from`/`--to` arguments are read by the same parser as GET /recordings' `from`
 * and `to`: what one refuses, the other refuses too.
 */
import '../../helpers/setup-env';
import { InvalidArgumentError } from 'commander';
import { parseInstant } from '../../../lib/ops/backfill';

describe('backfill --from/--to', () => {
  test.each([
    ['2031-03-01', '2031-03-01T00:00:00.000Z'],
    ['2031-03-01T12:30', '2031-03-01T12:30:00.000Z'],
    ['2031-03-01T12:30:15.5Z', '2031-03-01T12:30:15.500Z'],
    ['2031-03-01T14:00:00+02:00', '2031-03-01T12:00:00.000Z'],
    [' 2031-03-01 ', '2031-03-01T00:00:00.000Z'],
  ])('%s is %s', (given, instant) => {
    expect(parseInstant(given).toISOString()).toBe(instant);
  });

  test.each([
    '2031-03-01T24:00:00Z',
    '2031-03-01T24:00',
    '2031-03-01T12:60',
    '2031-03-01T12:00:60Z',
    '2031-02-30',
    '2031-03-01T12:00+24:00',
    '10000-01-01',
    '1969-12-31',
    'yesterday',
    '',
  ])('%s is refused, as GET /recordings refuses it', (given) => {
    expect(() => parseInstant(given)).toThrow(InvalidArgumentError);
    expect(() => parseInstant(given)).toThrow(/ISO date/);
  });
});
