/**
 * What `npm run export` shows: progress on stderr (a bar on a terminal, a line every few seconds
 * otherwise) and the one summary line.
 */
import { SingleBar } from 'cli-progress';
import type { ExportResult } from './export';

export interface ExportProgress {
  start(total: number): void;
  tick(copiedBytes: number, recordingSid: string): void;
  note(line: string): void;
  stop(): void;
}

/** A bar on a terminal; otherwise a plain line every few seconds (and the last one). */
export function exportProgress(tty: boolean, stream: NodeJS.WritableStream = process.stderr): ExportProgress {
  let total = 0;
  let done = 0;
  let bytes = 0;
  if (tty) {
    const bar = new SingleBar({
      format: 'export {bar} {percentage}% | {value}/{total} recordings | {mb} MB | {eta_formatted} left | {sid}',
      stream: stream as NodeJS.WriteStream,
      hideCursor: true,
    });
    // A note flashes in the bar and is kept for after it: a failure or a rewritten .json must stay on screen.
    const held: string[] = [];
    let running = false;
    return {
      start: (n) => {
        total = n;
        running = true;
        bar.start(n, 0, { mb: '0.0', sid: '' });
      },
      tick: (b, sid) => {
        bytes += b;
        bar.increment(1, { mb: (bytes / 1e6).toFixed(1), sid });
      },
      note: (line) => {
        if (!running) {
          stream.write(`${line}\n`);
          return;
        }
        held.push(line);
        bar.update({ sid: line.replace(/^export: /, '') });
      },
      stop: () => {
        if (running) bar.stop();
        running = false;
        for (const line of held.splice(0)) stream.write(`${line}\n`);
      },
    };
  }
  let lastLine = 0;
  return {
    start: (n) => {
      total = n;
      stream.write(`export: ${n} stored recordings in the range\n`);
    },
    tick: (b) => {
      done++;
      bytes += b;
      if (done < total && Date.now() - lastLine < 2000) return;
      lastLine = Date.now();
      stream.write(`export: ${done}/${total} recordings, ${(bytes / 1e6).toFixed(1)} MB copied\n`);
    },
    note: (line) => stream.write(`${line}\n`),
    stop: () => undefined,
  };
}

/** `export: N recordings: copied …[ (K copied again)], already there … (M .json rewritten), failed …, X MB[; manifest … sha256 …]`. */
export function exportSummary(result: ExportResult): string {
  const rewritten = result.metadataRewritten > 0 ? ` (${result.metadataRewritten} .json rewritten)` : '';
  const again = result.recopied > 0 ? ` (${result.recopied} copied again)` : '';
  const counts = `${result.listed} recordings: copied ${result.copied}${again}, already there ${result.alreadyThere}${rewritten}, failed ${result.failed}, ${(result.bytesCopied / 1e6).toFixed(1)} MB`;
  return result.manifestSha256
    ? `export: ${counts}; manifest ${result.manifestLocation} sha256 ${result.manifestSha256}`
    : `export: ${counts}`;
}
