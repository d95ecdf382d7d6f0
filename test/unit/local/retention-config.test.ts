/**
 * The local stack's retention settings (lib/local/config.ts): a start day that is no day of the
 * calendar is refused at start-up, not swept from for ever with nothing expired.
 */
import { ConfigError } from '../../../lambda/shared/runtime/env-reader';
import { loadLocalConfig } from '../../../lib/local/config';

const env = { TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`, TWILIO_AUTH_TOKEN: 'x', RETENTION_DAYS: '2' };

function problemsOf(extra: Record<string, string>): readonly string[] {
  try {
    loadLocalConfig({ ...env, ...extra });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

test.each(['2026-13-45', '2026-02-30', '2025-02-29', '2026-1-05', 'yesterday'])(
  'RETENTION_EARLIEST_DAY=%s is refused, naming the variable',
  (day) => {
    expect(problemsOf({ RETENTION_EARLIEST_DAY: day })).toEqual([
      `RETENTION_EARLIEST_DAY must be a day of the calendar, YYYY-MM-DD (got "${day}")`,
    ]);
  },
);

test.each(['2024-02-29', '2008-01-01', '2026-12-31'])(
  'RETENTION_EARLIEST_DAY=%s starts the first sweep there',
  (day) => {
    expect(loadLocalConfig({ ...env, RETENTION_EARLIEST_DAY: day }).retentionEarliestDay).toBe(day);
  },
);
