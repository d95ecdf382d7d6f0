/**
 * What `npm run export` shows on a terminal (lib/ops/export-progress.ts): the lines that name a
 * recording (not exported, .json rewritten) stay on screen once the bar is gone.
 */
import { Writable } from 'node:stream';
import { exportProgress, exportSummary } from '../../../lib/ops/export-progress';

function terminal(): { stream: NodeJS.WritableStream; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  Object.assign(stream, {
    isTTY: true,
    columns: 120,
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
  });
  return { stream, text: () => text };
}

test('on a terminal, a note about a recording is printed after the bar, not only flashed in it', () => {
  const { stream, text } = terminal();
  const progress = exportProgress(true, stream);

  progress.start(2);
  progress.note('export: RE1 not exported: SHA-256 mismatch');
  progress.tick(0, 'RE1');
  progress.note('export: RE2.json rewritten from the ledger (it was unreadable)');
  progress.tick(10, 'RE2');
  progress.stop();

  const lines = text().split('\n');
  expect(lines).toContain('export: RE1 not exported: SHA-256 mismatch');
  expect(lines).toContain('export: RE2.json rewritten from the ledger (it was unreadable)');
});

test('a note after the bar stopped is printed at once; stop twice is harmless', () => {
  const { stream, text } = terminal();
  const progress = exportProgress(true, stream);
  progress.stop();

  progress.note('export: the interruption could not be entered in the audit trail: no answer within 3000 ms');
  progress.stop();

  expect(text()).toBe('export: the interruption could not be entered in the audit trail: no answer within 3000 ms\n');
});

test('the summary names rewritten .json files only when there are some', () => {
  const base = {
    listed: 3,
    copied: 0,
    alreadyThere: 3,
    metadataRewritten: 0,
    failed: 0,
    recopied: 0,
    bytesCopied: 0,
    finished: true,
    failures: [],
  };

  expect(exportSummary(base)).toBe('export: 3 recordings: copied 0, already there 3, failed 0, 0.0 MB');
  expect(exportSummary({ ...base, metadataRewritten: 2 })).toBe(
    'export: 3 recordings: copied 0, already there 3 (2 .json rewritten), failed 0, 0.0 MB',
  );
  expect(exportSummary({ ...base, copied: 1, recopied: 1, alreadyThere: 2 })).toBe(
    'export: 3 recordings: copied 1 (1 copied again), already there 2, failed 0, 0.0 MB',
  );
});
