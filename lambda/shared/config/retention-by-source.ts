import { RECORDING_SOURCES, type RecordingSource } from '../job/recording-job';
import type { EnvReader } from '../runtime/env-reader';
import { ENV } from './env-names';

/**
 * A stage's retention periods by Twilio RecordingSource (`retention.bySource` in cdk.json), as
 * one environment variable: `Conference=365,RecordVerb=30`. A source not named keeps the stage's
 * `retention.days`.
 */
export type DaysBySource = Readonly<Partial<Record<RecordingSource, number>>>;

export const MIN_RETENTION_DAYS = 1;
export const MAX_RETENTION_DAYS = 36_500;

/** `Conference=365,RecordVerb=30`, in Twilio's order of the sources (the same text for the same periods). */
export function formatDaysBySource(bySource: DaysBySource): string {
  return RECORDING_SOURCES.filter((source) => bySource[source] !== undefined)
    .map((source) => `${source}=${bySource[source]}`)
    .join(',');
}

/**
 * Reads `formatDaysBySource`'s text back; every problem is named (an unknown source, a period
 * that is not a whole number of days in range, a source named twice). Empty: none.
 */
export function parseDaysBySource(
  text: string,
  name: string,
): { readonly bySource: DaysBySource; readonly problems: readonly string[] } {
  const bySource: Partial<Record<RecordingSource, number>> = {};
  const problems: string[] = [];
  for (const part of text.split(',')) {
    const entry = part.trim();
    if (entry === '') continue;
    const [source = '', days = '', ...rest] = entry.split('=').map((s) => s.trim());
    if (!(RECORDING_SOURCES as readonly string[]).includes(source)) {
      problems.push(`${name}: "${source}" is not a Twilio RecordingSource (one of ${RECORDING_SOURCES.join(', ')})`);
      continue;
    }
    const value = Number(days);
    if (rest.length > 0 || !/^\d+$/.test(days) || value < MIN_RETENTION_DAYS || value > MAX_RETENTION_DAYS) {
      problems.push(
        `${name}: ${source} must be a whole number of days from ${MIN_RETENTION_DAYS} to ${MAX_RETENTION_DAYS} (got "${entry}")`,
      );
      continue;
    }
    if (bySource[source as RecordingSource] !== undefined) {
      problems.push(`${name}: ${source} is named twice`);
      continue;
    }
    bySource[source as RecordingSource] = value;
  }
  return { bySource, problems };
}

/**
 * RETENTION_DAYS_BY_SOURCE as the retention function and `npm start` read it, its problems added
 * to `r`'s; undefined when it is not set.
 */
export function readDaysBySource(r: EnvReader): DaysBySource | undefined {
  const text = r.optional(ENV.retentionDaysBySource);
  if (text === undefined) return undefined;
  const { bySource, problems } = parseDaysBySource(text, ENV.retentionDaysBySource);
  r.problems.push(...problems);
  return bySource;
}
