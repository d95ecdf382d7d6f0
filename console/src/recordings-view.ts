/**
 * The recordings of one UTC day (GET /recordings, paged with its cursor): per recording its status,
 * time, duration, channels, source, call and conference, size, SHA-256 and legal hold; play,
 * download, erase. The hold and audit controls appear only where the API lets this sign-in use
 * their routes (see `detectExtras`). Only Play and Download ask for a presigned URL: that is an
 * access the audit trail enters, so nothing else may ask for one.
 */
import { ApiError, type AuditEntry, type LegalHold, type ListedRecording, type VaultApi } from './api';
import { byId, el, show } from './dom';
import { addDays, bytes, dayAndTime, duration, orDash, timeOfDay, utcDay } from './format';
import { clearMessage, say } from './messages';
import { Player } from './player';

const PAGE_SIZE = 50;

/** Not a RecordingSid: the hold and audit handlers refuse it (400) before they read or write anything. */
const PROBE_SID = 'console-probe';

/** Statuses with no audio left: nothing to play, hold or erase. */
const GONE = new Set(['erased', 'expired']);

export interface ViewHooks {
  /** The API refused the token: back to sign-in with this message. */
  readonly unauthorized: (message: string) => void;
}

/** What the API offers beyond the listing, playback and erasure; unknown until probed. */
interface Extras {
  hold: boolean;
  audit: boolean;
  probed: boolean;
}

export class RecordingsView {
  private day = utcDay(new Date());
  private rows: ListedRecording[] = [];
  private cursor: string | null = null;
  private loading = 0;
  private readonly extras: Extras = { hold: false, audit: false, probed: false };
  private readonly player: Player;
  /** Whether `rows` are the held listing (every day) rather than a day's. */
  private heldRows = false;
  private pendingErase: ListedRecording | undefined;
  private pendingHold: ListedRecording | undefined;

  constructor(
    private readonly api: VaultApi,
    private readonly hooks: ViewHooks,
  ) {
    this.player = new Player(api, (error) => this.fail(error, 'Playback failed'));
    const dayInput = byId<HTMLInputElement>('day');
    dayInput.addEventListener('change', () => {
      if (dayInput.value) void this.load(dayInput.value);
    });
    byId('prev-day').addEventListener('click', () => void this.load(addDays(this.day, -1)));
    byId('next-day').addEventListener('click', () => void this.load(addDays(this.day, 1)));
    byId('today').addEventListener('click', () => void this.load(utcDay(new Date())));
    byId('refresh').addEventListener('click', () => void this.load(this.day));
    byId('more').addEventListener('click', () => void this.loadMore());
    byId<HTMLInputElement>('show-erased').addEventListener('change', () => this.render());
    byId<HTMLInputElement>('held-only').addEventListener('change', () => void this.load(this.day));
    const dialog = byId<HTMLDialogElement>('confirm-erase');
    dialog.addEventListener('close', () => {
      const recording = this.pendingErase;
      this.pendingErase = undefined;
      if (recording && dialog.returnValue === 'erase') void this.erase(recording);
    });
    const holdDialog = byId<HTMLDialogElement>('hold-dialog');
    holdDialog.addEventListener('close', () => {
      const recording = this.pendingHold;
      this.pendingHold = undefined;
      if (recording && holdDialog.returnValue === 'confirm') void this.toggleHold(recording);
    });
    byId('audit-close').addEventListener('click', () => show(byId('audit'), false));
  }

  open(): void {
    show(byId('recordings'));
    void this.load(this.day);
  }

  close(): void {
    this.player.stop();
    show(byId('recordings'), false);
  }

  /** Loads the first page of `day`. */
  async load(day: string): Promise<void> {
    this.day = day;
    byId<HTMLInputElement>('day').value = day;
    this.rows = [];
    this.cursor = null;
    await this.fetchPage(undefined);
  }

  private async loadMore(): Promise<void> {
    if (this.cursor) await this.fetchPage(this.cursor);
  }

  private async fetchPage(cursor: string | undefined): Promise<void> {
    const ticket = ++this.loading;
    const list = byId('list');
    list.setAttribute('aria-busy', 'true');
    try {
      // "Held only" lists every recording on hold now, of every day: a compliance officer asks
      // for the holds, not for one day's.
      const held = heldOnly();
      const range = held ? undefined : { from: this.day, to: addDays(this.day, 1) };
      const page = await this.api.listRecordings(range, PAGE_SIZE, cursor, held);
      if (ticket !== this.loading) return; // a newer load won
      this.rows = cursor ? [...this.rows, ...page.recordings] : page.recordings;
      this.cursor = page.nextCursor;
      this.heldRows = held;
      clearMessage();
      this.render();
      void this.detectExtras();
    } catch (error) {
      if (ticket === this.loading) this.fail(error, 'The recordings could not be listed');
    } finally {
      if (ticket === this.loading) list.setAttribute('aria-busy', 'false');
    }
  }

  private visible(): ListedRecording[] {
    const showErased = byId<HTMLInputElement>('show-erased').checked;
    return this.rows.filter((r) => showErased || !GONE.has(r.status));
  }

  private render(): void {
    const body = byId('rows');
    const rows = this.visible();
    body.replaceChildren(...rows.map((recording) => this.row(recording)));
    const list = byId('list');
    const held = this.heldRows;
    list.dataset.day = this.day;
    if (held) list.dataset.held = 'all';
    else delete list.dataset.held;
    list.dataset.count = String(rows.length);
    show(byId('empty'), rows.length === 0);
    show(byId('more'), this.cursor !== null);
    // The day applies to the day's listing only.
    for (const id of ['day', 'prev-day', 'next-day', 'today']) byId<HTMLInputElement>(id).disabled = held;
    const what = `${rows.length} recording${rows.length === 1 ? '' : 's'}`;
    byId('summary').textContent = `${
      held ? `${what} on legal hold, every day (UTC)` : `${what} started on ${this.day} (UTC)`
    }${this.cursor ? ', more to load' : ''}`;
  }

  private row(recording: ListedRecording): HTMLTableRowElement {
    const playable = recording.status === 'stored';
    const sha = recording.sha256;
    const call = el(
      'div',
      { class: 'call' },
      el('span', { class: 'call-id', text: orDash(recording.callId) }),
      recording.callSid ? el('span', { class: 'sid', title: 'Call SID', text: recording.callSid }) : null,
      recording.conferenceSid
        ? el('span', { class: 'sid', title: 'Conference SID', text: recording.conferenceSid })
        : null,
    );
    const actions = el('td', { class: 'actions' });
    if (playable) {
      const play = el('button', { type: 'button', class: 'play', text: 'Play' });
      play.addEventListener('click', () => void this.player.play(recording));
      const download = el('button', { type: 'button', class: 'download', text: 'Download' });
      download.addEventListener('click', () => void this.download(recording));
      actions.append(play, download);
    }
    // HOLD VIEW: the toggle only where this sign-in may use PUT/DELETE /recordings/{sid}/hold (see
    // detectExtras); whether the recording is held comes from its listing row.
    if (this.extras.hold && !GONE.has(recording.status)) {
      const hold = el('button', { type: 'button', class: 'hold', text: recording.hold ? 'Release hold…' : 'Hold…' });
      hold.addEventListener('click', () => this.confirmHold(recording));
      actions.append(hold);
    }
    // AUDIT VIEW: shown only where the API answers GET /recordings/{sid}/audit.
    if (this.extras.audit) {
      const audit = el('button', { type: 'button', class: 'audit', text: 'Audit' });
      audit.addEventListener('click', () => void this.showAudit(recording));
      actions.append(audit);
    }
    if (!GONE.has(recording.status)) {
      const erase = el('button', { type: 'button', class: 'erase danger', text: 'Erase…' });
      erase.addEventListener('click', () => this.confirmErase(recording));
      actions.append(erase);
    }
    return el(
      'tr',
      {
        'data-sid': recording.recordingSid,
        'data-status': recording.status,
        ...(recording.hold ? { 'data-hold': 'held' } : {}),
      },
      el('td', {
        class: 'time',
        title: recording.startedAt,
        // The held listing spans days: each row names its own.
        text: this.heldRows ? dayAndTime(recording.startedAt) : timeOfDay(recording.startedAt),
      }),
      el(
        'td',
        {},
        el('span', { class: `status status-${recording.status}`, text: recording.status }),
        recording.hold ? el('span', { class: 'held', title: describeHold(recording.hold), text: 'held' }) : null,
      ),
      el('td', { class: 'num', text: duration(recording.durationSeconds) }),
      el('td', { class: 'num', text: orDash(recording.channels) }),
      el('td', { text: orDash(recording.source) }),
      el('td', {}, call),
      el('td', {
        class: 'num',
        title: recording.sizeBytes === null ? undefined : `${recording.sizeBytes} bytes`,
        text: bytes(recording.sizeBytes),
      }),
      el('td', { class: 'sha' }, sha ? el('code', { title: sha, text: `${sha.slice(0, 12)}…` }) : '—'),
      el('td', { class: 'sid', text: recording.recordingSid }),
      actions,
    );
  }

  private async download(recording: ListedRecording): Promise<void> {
    try {
      const playback = await this.api.playback(recording);
      const extension = playback.contentType === 'audio/wav' ? 'wav' : 'mp3';
      const link = el('a', { href: playback.url, download: `${recording.recordingSid}.${extension}`, rel: 'noopener' });
      link.click();
    } catch (error) {
      this.fail(error, 'The download could not start');
    }
  }

  private confirmErase(recording: ListedRecording): void {
    this.pendingErase = recording;
    const of = recording.callId
      ? `call ${recording.callId}`
      : `conference ${recording.conferenceSid ?? '(no call, no conference)'}`;
    byId('erase-what').textContent = `${recording.recordingSid} of ${of}, started ${recording.startedAt}.`;
    const dialog = byId<HTMLDialogElement>('confirm-erase');
    dialog.returnValue = '';
    dialog.showModal();
  }

  private async erase(recording: ListedRecording): Promise<void> {
    say(`Erasing ${recording.recordingSid}…`);
    try {
      if (this.player.current === recording.recordingSid) this.player.stop();
      await this.api.erase(recording);
      await this.load(this.day);
      say(`Erased ${recording.recordingSid}.`);
    } catch (error) {
      this.fail(error, `${recording.recordingSid} could not be erased`);
    }
  }

  /**
   * Finds out, once, whether this sign-in may use the audit and hold routes, without acting and
   * without asking for a presigned URL: each route is sent a request naming no valid RecordingSid,
   * which its handler refuses (400) before it reads or writes anything, and which the audit trail
   * does not enter. A gateway that refuses the sign-in's scope (403) or has no such route (404/405)
   * keeps the control hidden. Then `data-extras="probed"`: the rows are final.
   */
  private async detectExtras(): Promise<void> {
    if (this.extras.probed) return;
    this.extras.probed = true;
    const [audit, hold] = await Promise.all([
      this.api.routeStatus('GET', `/recordings/${PROBE_SID}/audit`),
      this.api.routeStatus('DELETE', `/recordings/${PROBE_SID}/hold`),
    ]);
    this.extras.audit = usable(audit);
    this.extras.hold = usable(hold);
    if (this.extras.audit || this.extras.hold) this.render();
    // The rows are final from here on (a render above replaced them): people and tests may act on them.
    byId('list').dataset.extras = 'probed';
  }

  /** Asks for a reason to hold, or for confirmation to release the hold the listing shows. */
  private confirmHold(recording: ListedRecording): void {
    this.pendingHold = recording;
    const held = recording.hold;
    byId('hold-title').textContent = held ? 'Release the legal hold?' : 'Put this recording on legal hold';
    byId('hold-what').textContent = held
      ? `${recording.recordingSid}: ${describeHold(held)}. Once released, it can be erased and expire again.`
      : `${recording.recordingSid}: while held, it cannot be erased and retention passes it by.`;
    const reason = byId<HTMLInputElement>('hold-reason');
    reason.value = '';
    reason.required = !held;
    show(byId('hold-reason-field'), !held);
    byId('hold-confirm').textContent = held ? 'Release' : 'Hold';
    const dialog = byId<HTMLDialogElement>('hold-dialog');
    dialog.returnValue = '';
    dialog.showModal();
  }

  private async toggleHold(recording: ListedRecording): Promise<void> {
    const sid = recording.recordingSid;
    try {
      if (recording.hold) {
        await this.api.release(sid);
        await this.load(this.day);
        say(`Released the hold on ${sid}.`);
      } else {
        await this.api.hold(sid, byId<HTMLInputElement>('hold-reason').value.trim());
        await this.load(this.day);
        say(`${sid} is on hold.`);
      }
    } catch (error) {
      this.fail(error, recording.hold ? `The hold on ${sid} could not be released` : `${sid} could not be held`);
    }
  }

  private async showAudit(recording: ListedRecording): Promise<void> {
    try {
      const { entries } = await this.api.audit(recording.recordingSid);
      byId('audit-title').textContent = `Audit trail of ${recording.recordingSid}`;
      byId('audit-rows').replaceChildren(
        ...entries.map((entry: AuditEntry) =>
          el(
            'tr',
            {},
            el('td', { text: entry.at }),
            el('td', { text: entry.actor }),
            el('td', { text: entry.action }),
            el('td', { text: orDash(entry.sourceIp) }),
          ),
        ),
      );
      show(byId('audit'));
    } catch (error) {
      this.fail(error, 'The audit trail could not be read');
    }
  }

  private fail(error: unknown, what: string): void {
    if (error instanceof ApiError && error.status === 401) {
      this.hooks.unauthorized(
        'The API refused the token (401 Unauthorized). Sign in again: locally, paste the LOCAL_API_TOKEN that `npm start` printed.',
      );
      return;
    }
    if (error instanceof ApiError && error.status === 403) {
      say(`${what}: your sign-in lacks the permission for this (403 Forbidden).`, 'error');
      return;
    }
    const detail = error instanceof Error ? error.message : String(error);
    say(`${what}: ${detail}`, 'error');
  }
}

/** 400 (the handler refused the probe) or 2xx: the route is there and this sign-in may call it. */
function usable(status: number): boolean {
  return status === 400 || (status >= 200 && status < 300);
}

function heldOnly(): boolean {
  return byId<HTMLInputElement>('held-only').checked;
}

function describeHold(hold: LegalHold): string {
  return `held by ${hold.by} since ${hold.at}: ${hold.reason}`;
}
