/**
 * The one reader of an instant a person types: GET /recordings' `from`/`to` and the backfill's
 * `--from`/`--to`, so that what one refuses the other refuses too.
 */

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** The years an instant may name: none before Unix time, none whose ISO text needs more than four digits. */
export const FIRST_YEAR = 1970;
export const LAST_YEAR = 9999;

/**
 * `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM[:SS[.sss]]` with `Z`, an offset, or none (UTC).
 * Calendar-checked: 2024-02-30 and T24:00 are refused, not rolled over. Undefined when refused.
 */
export function parseIsoInstant(value: string): Date | undefined {
  const m = INSTANT.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((part) => Number(part ?? 0)) as [
    number,
    number,
    number,
    number?,
    number?,
    number?,
  ];
  const millis = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, millis);
  if (
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    return undefined;
  }
  const offset = m[8];
  if (offset && offset !== 'Z') {
    const offsetHours = Number(offset.slice(1, 3));
    const offsetMinutes = Number(offset.slice(4, 6));
    if (offsetHours > 23 || offsetMinutes > 59) return undefined;
    const sign = offset.startsWith('-') ? -1 : 1;
    date.setTime(date.getTime() - sign * (offsetHours * 60 + offsetMinutes) * 60_000);
  }
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < FIRST_YEAR || date.getUTCFullYear() > LAST_YEAR) {
    return undefined;
  }
  return date;
}
