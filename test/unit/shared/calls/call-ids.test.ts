import '../../../helpers/setup-env';
import { isPlayableCallId } from '../../../../lambda/recordings-read/playback';
import { eraseRecording } from '../../../../lambda/shared/erasure/recording-erasure';
import { generateStorageKey } from '../../../../lambda/shared/storage/recording-store';

/** Whatever the transfer stores, playback and erasure find by the same id; what it refuses, they refuse. */
const RECORDING_SID = `RE${'a'.repeat(32)}`;
const STARTED = '2024-07-22T17:00:00.000Z';

const ids: [string, string][] = [
  ['plain', 'call-1'],
  ['a space and an accent', 'café 1'],
  ['delimiters and a slash', 'a,b;c=d+e/f'],
  ['emoji', '📞-42'],
  ['exactly 512 bytes', 'x'.repeat(512)],
  ['513 bytes', 'x'.repeat(513)],
  ['600 ASCII bytes', 'y'.repeat(600)],
  ['1,000 euro signs (3,000 bytes)', '€'.repeat(1000)],
  ['a control character', 'call\u00011'],
  ['a newline', 'call\n1'],
  ['a lone surrogate', 'call\uD800'],
  ['nothing', ''],
];

describe('call ids', () => {
  test.each(ids)('with %s: stored exactly when playable', (_, callId) => {
    const stored = (() => {
      try {
        generateStorageKey(callId, RECORDING_SID, STARTED, 'mp3');
        return true;
      } catch {
        return false;
      }
    })();

    expect(stored).toBe(isPlayableCallId(callId));
  });

  test.each(ids.filter(([, id]) => !isPlayableCallId(id)))(
    'with %s: DELETE answers 404 without asking DynamoDB',
    async (_, callId) => {
      const untouched = () => {
        throw new Error('DynamoDB must not be asked about an id the vault never stores');
      };
      const deps = { calls: { getCall: untouched }, ledger: { get: untouched } } as never;

      await expect(
        eraseRecording({ callId, recordingSid: RECORDING_SID, erasedBy: 'test' }, deps),
      ).rejects.toMatchObject({ statusCode: 404 });
    },
  );
});
