/**
 * The retention sweep's walks: one per period, the sources each covers, where a walk new to the
 * stage starts, and the `RETENTION_DAYS_BY_SOURCE` text that carries `retention.bySource`.
 */

import { MAX_PENDING, type PendingRecording } from '../../../lambda/retention/checkpoint-state';
import { retentionWalks, seededCheckpoint, walkCovers, walkLabel } from '../../../lambda/retention/retention-walks';
import { RETENTION_CHECKPOINT_KEY } from '../../../lambda/shared/config/env-names';
import { formatDaysBySource, parseDaysBySource } from '../../../lambda/shared/config/retention-by-source';
import { RECORDING_SOURCES } from '../../../lambda/shared/job/recording-job';

describe('retentionWalks', () => {
  it('makes one walk of every source, under the checkpoint a stage without bySource always had', () => {
    const walks = retentionWalks({ days: 90 });

    expect(walks).toEqual([{ checkpointKey: RETENTION_CHECKPOINT_KEY, days: 90 }]);
    expect(walkCovers(walks[0] as never, 'Conference')).toBe(true);
    expect(walkCovers(walks[0] as never, undefined)).toBe(true);
    expect(walkLabel(walks[0] as never)).toBe('every source');
  });

  it('gives sources kept for another period a walk of their own, shortest period first, and sources with one period one walk', () => {
    const walks = retentionWalks({ days: 90, bySource: { Trunking: 365, RecordVerb: 30, Conference: 365 } });

    expect(walks.map((walk) => [walk.days, walkLabel(walk)])).toEqual([
      [30, 'RecordVerb'],
      [90, 'every source but Conference, Trunking, RecordVerb'],
      [365, 'Conference, Trunking'],
    ]);
    const [short, main, long] = walks;
    expect(walkCovers(short as never, 'RecordVerb')).toBe(true);
    expect(walkCovers(short as never, 'DialVerb')).toBe(false);
    expect(walkCovers(short as never, undefined)).toBe(false);
    expect(walkCovers(main as never, 'DialVerb')).toBe(true);
    expect(walkCovers(main as never, undefined)).toBe(true);
    expect(walkCovers(main as never, 'Trunking')).toBe(false);
    expect(walkCovers(long as never, 'Trunking')).toBe(true);
  });

  it('covers every source by exactly one walk', () => {
    const walks = retentionWalks({ days: 90, bySource: { Conference: 365, OutboundAPI: 7, DialVerb: 90 } });

    for (const source of [...RECORDING_SOURCES, undefined]) {
      expect(walks.filter((walk) => walkCovers(walk, source))).toHaveLength(1);
    }
  });

  it('keeps a source named with the stage period in the main walk, under the key it always had', () => {
    expect(retentionWalks({ days: 90, bySource: { DialVerb: 90 } })).toEqual([
      { checkpointKey: RETENTION_CHECKPOINT_KEY, days: 90 },
    ]);
  });

  it('names the sources a walk covers in its checkpoint key, so a walk whose sources change starts anew', () => {
    const before = retentionWalks({ days: 90, bySource: { Conference: 365 } }).map((walk) => walk.checkpointKey);
    const after = retentionWalks({ days: 90, bySource: { Conference: 365, Trunking: 365 } }).map(
      (walk) => walk.checkpointKey,
    );
    const longer = retentionWalks({ days: 120, bySource: { Conference: 400 } }).map((walk) => walk.checkpointKey);

    expect(new Set([...before, ...after]).size).toBe(4);
    expect(longer).toEqual(before);
    for (const key of [...before, ...after]) expect(key.startsWith(RETENTION_CHECKPOINT_KEY)).toBe(true);
  });
});

describe('seededCheckpoint', () => {
  const held = (recordingSid: string): PendingRecording => ({ recordingSid, why: 'held', audited: true });

  it('starts at the first day with every entry the replaced walks remembered, once, and their earliest settledAt', () => {
    const seeded = seededCheckpoint(
      [
        { nextDay: '2024-05-01', pending: [held('RE1'), held('RE2')], settledAt: '2024-06-02T00:00:00.000Z' },
        { nextDay: '2024-03-01', pending: [held('RE2'), held('RE3')], settledAt: '2024-06-01T00:00:00.000Z' },
      ],
      '2008-01-01',
    );

    expect(seeded).toEqual({
      nextDay: '2008-01-01',
      pending: [held('RE1'), held('RE2'), held('RE3')],
      settledAt: '2024-06-01T00:00:00.000Z',
    });
  });

  it('keeps what an earlier attempt of the same new walk remembered, and the window of a run of it that was lost', () => {
    const unaudited: PendingRecording = {
      recordingSid: 'RE9',
      why: 'unaudited',
      expiredAt: '2024-06-03T00:10:00.000Z',
    };
    const seeded = seededCheckpoint(
      [{ nextDay: '2024-05-01', pending: [held('RE1')], settledAt: '2024-06-02T00:00:00.000Z' }],
      '2008-01-01',
      new Date('2024-06-03T01:00:00.000Z'),
      // The run that made it failed in a later walk (not recorded as made) or died in it.
      {
        nextDay: '2016-03-01',
        pending: [unaudited],
        settledAt: '2024-06-03T00:30:00.000Z',
        runningSince: '2024-06-03T00:00:00.000Z',
      },
    );

    expect(seeded).toEqual({
      nextDay: '2008-01-01',
      pending: [held('RE1'), unaudited],
      settledAt: '2024-06-02T00:00:00.000Z',
      doubt: { from: '2024-06-03T00:00:00.000Z', to: '2024-06-03T01:00:00.000Z', day: '2016-03-01' },
    });
  });

  it('claims nothing settled when a replaced walk never saved one', () => {
    const seeded = seededCheckpoint(
      [{ nextDay: '2024-05-01', pending: [held('RE1')], settledAt: '2024-06-02T00:00:00.000Z' }, undefined],
      '2008-01-01',
    );

    expect(seeded).toEqual({ nextDay: '2008-01-01', pending: [held('RE1')] });
  });

  it('carries nothing when the replaced lists hold more than one checkpoint can, and claims nothing settled', () => {
    const many = Array.from({ length: MAX_PENDING }, (_, i) => held(`RE${i}`));
    const seeded = seededCheckpoint(
      [
        { nextDay: '2024-05-01', pending: many, settledAt: '2024-06-02T00:00:00.000Z' },
        { nextDay: '2024-05-01', pending: [held('REextra')], settledAt: '2024-06-02T00:00:00.000Z' },
      ],
      '2008-01-01',
    );

    expect(seeded).toEqual({ nextDay: '2008-01-01', pending: [] });
  });
});

describe('RETENTION_DAYS_BY_SOURCE', () => {
  it('reads back what formatDaysBySource writes', () => {
    const text = formatDaysBySource({ RecordVerb: 30, Conference: 365 });

    expect(text).toBe('Conference=365,RecordVerb=30');
    expect(parseDaysBySource(text, 'X')).toEqual({ bySource: { Conference: 365, RecordVerb: 30 }, problems: [] });
    expect(parseDaysBySource('', 'X')).toEqual({ bySource: {}, problems: [] });
  });

  it('names every problem at once: an unknown source, a period out of range or not whole, a source named twice', () => {
    const { problems } = parseDaysBySource(
      'conference=365, Trunking=0,RecordVerb=1.5,DialVerb=30,DialVerb=40,OutboundAPI=7=8',
      'RETENTION_DAYS_BY_SOURCE',
    );

    expect(problems).toEqual([
      expect.stringContaining('"conference" is not a Twilio RecordingSource'),
      expect.stringContaining('Trunking must be a whole number of days from 1 to 36500'),
      expect.stringContaining('RecordVerb must be a whole number of days'),
      'RETENTION_DAYS_BY_SOURCE: DialVerb is named twice',
      expect.stringContaining('OutboundAPI must be a whole number of days'),
    ]);
  });
});
