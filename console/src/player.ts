/**
 * The page's one audio player: plays a recording from a fresh presigned URL (fetched when Play is
 * pressed, so it never expires in the page). Its state is on the element (`data-sid`,
 * `data-state`: loading | playing | paused | ended | error) for people and tests alike.
 */
import type { ListedRecording, VaultApi } from './api';
import { byId, show } from './dom';

export class Player {
  current: string | undefined;
  private readonly audio: HTMLAudioElement;

  constructor(
    private readonly api: VaultApi,
    private readonly onError: (error: unknown) => void,
  ) {
    this.audio = byId<HTMLAudioElement>('audio');
    const state = (value: string) => () => {
      if (this.audio.getAttribute('src')) this.audio.dataset.state = value;
    };
    this.audio.addEventListener('playing', state('playing'));
    this.audio.addEventListener('pause', () => {
      if (!this.audio.ended) state('paused')();
    });
    this.audio.addEventListener('ended', state('ended'));
    this.audio.addEventListener('error', () => {
      if (!this.audio.getAttribute('src')) return;
      this.audio.dataset.state = 'error';
      this.onError(new Error('the browser could not play this audio'));
    });
  }

  async play(recording: Pick<ListedRecording, 'recordingSid' | 'callId' | 'startedAt'>): Promise<void> {
    this.current = recording.recordingSid;
    this.audio.dataset.sid = recording.recordingSid;
    this.audio.dataset.state = 'loading';
    byId('now-playing').textContent = `${recording.recordingSid} · call ${recording.callId ?? '?'}`;
    show(byId('player'));
    try {
      const playback = await this.api.playback(recording);
      if (this.current !== recording.recordingSid) return; // another Play came first
      this.audio.src = playback.url;
      await this.audio.play();
    } catch (error) {
      if (this.current !== recording.recordingSid) return;
      this.audio.dataset.state = 'error';
      this.onError(error);
    }
  }

  stop(): void {
    this.current = undefined;
    this.audio.pause();
    this.audio.removeAttribute('src');
    this.audio.load();
    delete this.audio.dataset.sid;
    delete this.audio.dataset.state;
    show(byId('player'), false);
  }
}
