/** The one line at the top of the page that says what happened: information, or an error. */
import { byId } from './dom';

export function say(text: string, kind: 'info' | 'error' = 'info'): void {
  const message = byId('message');
  message.textContent = text;
  message.dataset.kind = kind;
  message.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  message.hidden = false;
}

export function clearMessage(): void {
  const message = byId('message');
  message.textContent = '';
  message.hidden = true;
  delete message.dataset.kind;
}
