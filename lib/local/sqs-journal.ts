/**
 * Durability for the in-memory SQS emulator (fauxqs). Every message the emulator accepts,
 * deletes, or moves to a dead-letter queue is appended to a journal with a synchronous write,
 * so the entry is in the file before SendMessage is answered. On start the journal is replayed:
 * every message published and not yet deleted goes back into the queue it was last in (the
 * dead-letter queue included), with its original MessageId, so a job that was queued or in
 * flight when the process died (even `kill -9`) runs again, and the transfer handler's claim
 * on the recording (keyed by MessageId) is taken over at once instead of waiting out its lease.
 *
 * Not journaled: receive counts and visibility deadlines (a replayed message is visible at once
 * and starts a fresh count), and PurgeQueue (not used by the stack).
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface JournaledAttribute {
  readonly DataType: string;
  readonly StringValue?: string;
  readonly BinaryValue?: string;
}

export interface JournaledMessage {
  readonly queue: string;
  readonly messageId: string;
  readonly body: string;
  readonly messageAttributes: Record<string, JournaledAttribute>;
  readonly sentTimestamp: number;
}

type Entry =
  | {
      readonly op: 'published';
      readonly q: string;
      readonly id: string;
      readonly body: string;
      readonly attrs: Record<string, JournaledAttribute>;
      readonly t: number;
    }
  | { readonly op: 'consumed' | 'dlq'; readonly q: string; readonly id: string; readonly t: number };

/** The event fauxqs's stores report to their `spy` (fauxqs 1.9 SqsSpyMessage). */
export interface SqsSpyEvent {
  readonly service: string;
  readonly queueName?: string;
  readonly messageId?: string;
  readonly body?: string;
  readonly messageAttributes?: Record<string, JournaledAttribute>;
  readonly status?: string;
  readonly timestamp?: number;
}

export class SqsJournal {
  private fd: number | undefined;
  private readonly file: string;
  /** While replaying, re-enqueued messages are already in the compacted journal. */
  private muted = false;

  constructor(readonly dir: string) {
    this.file = join(dir, 'journal.ndjson');
  }

  /**
   * Reads the journal, works out the messages still owed, rewrites the journal with just those
   * (atomically, via rename) and opens it for appending. Returns the messages to re-enqueue.
   */
  open(): JournaledMessage[] {
    mkdirSync(this.dir, { recursive: true });
    const live = new Map<string, JournaledMessage>();
    if (existsSync(this.file)) {
      const text = readFileSync(this.file, 'utf8');
      for (const line of text.split('\n')) {
        if (!line) continue;
        let entry: Entry;
        try {
          entry = JSON.parse(line) as Entry;
        } catch {
          continue; // a line cut short by a crash mid-write: its SendMessage was never answered
        }
        const key = `${entry.q}\u0000${entry.id}`;
        if (entry.op === 'published') {
          live.set(key, {
            queue: entry.q,
            messageId: entry.id,
            body: entry.body,
            messageAttributes: entry.attrs ?? {},
            sentTimestamp: entry.t,
          });
        } else {
          live.delete(key);
        }
      }
    }
    const messages = [...live.values()].sort((a, b) => a.sentTimestamp - b.sentTimestamp);
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      const lines = messages.map((m) => line(publishedEntry(m))).join('');
      if (lines) writeSync(fd, lines);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    this.fd = openSync(this.file, 'a');
    return messages;
  }

  /** Runs `fn` without journaling (replay of messages the compacted journal already holds). */
  replaying<T>(fn: () => T): T {
    this.muted = true;
    try {
      return fn();
    } finally {
      this.muted = false;
    }
  }

  /** The fauxqs spy hook: called synchronously inside SendMessage, DeleteMessage and the DLQ move. */
  record(event: SqsSpyEvent): void {
    if (this.muted || event.service !== 'sqs' || !event.queueName || !event.messageId) return;
    const t = event.timestamp ?? Date.now();
    let entry: Entry;
    if (event.status === 'published') {
      entry = {
        op: 'published',
        q: event.queueName,
        id: event.messageId,
        body: event.body ?? '',
        attrs: event.messageAttributes ?? {},
        t,
      };
    } else if (event.status === 'consumed' || event.status === 'dlq') {
      entry = { op: event.status, q: event.queueName, id: event.messageId, t };
    } else {
      return;
    }
    this.append(entry);
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      fsyncSync(this.fd);
    } catch {
      // closing anyway
    }
    closeSync(this.fd);
    this.fd = undefined;
  }

  private append(entry: Entry): void {
    if (this.fd === undefined) throw new Error('The SQS journal is not open');
    // One write per entry: a process killed mid-write leaves at most one torn last line.
    const bytes = Buffer.from(line(entry), 'utf8');
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(this.fd, bytes, offset, bytes.length - offset);
  }
}

function publishedEntry(m: JournaledMessage): Entry {
  return { op: 'published', q: m.queue, id: m.messageId, body: m.body, attrs: m.messageAttributes, t: m.sentTimestamp };
}

function line(entry: Entry): string {
  return `${JSON.stringify(entry)}\n`;
}
