/**
 * The console's entry: reads the stage's config.json, signs the user in (local token, or JWT with
 * the authorization code flow and PKCE), then shows the recordings. An IAM-only stage gets a plain
 * message: a browser page cannot sign IAM requests.
 */
import { VaultApi } from './api';
import { type ConsoleConfig, loadConfig } from './config';
import { byId, show } from './dom';
import { clearMessage, say } from './messages';
import { beginSignIn, completeSignIn } from './oidc';
import { RecordingsView } from './recordings-view';
import { currentToken, forgetToken, saveToken, takeTokenFromFragment } from './session';

function showSignIn(config: ConsoleConfig): void {
  show(byId('sign-in'));
  show(byId('token-form'), config.auth === 'local');
  show(byId('oidc-sign-in'), config.auth === 'jwt');
  show(byId('sign-out'), false);
  if (config.auth === 'local') byId<HTMLInputElement>('token').focus();
}

async function start(): Promise<void> {
  let config: ConsoleConfig;
  try {
    config = await loadConfig();
  } catch (error) {
    say(error instanceof Error ? error.message : String(error), 'error');
    return;
  }
  document.body.dataset.auth = config.auth;
  if (config.auth === 'iam') {
    show(byId('unsupported'));
    return;
  }

  const api = new VaultApi(currentToken);
  const view = new RecordingsView(api, {
    unauthorized(message) {
      forgetToken();
      view.close();
      showSignIn(config);
      say(message, 'error');
    },
  });
  const signedIn = () => {
    show(byId('sign-in'), false);
    show(byId('sign-out'));
    view.open();
  };

  byId('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = byId<HTMLInputElement>('token');
    const token = input.value.trim();
    if (!token) return;
    input.value = '';
    saveToken(token);
    clearMessage();
    signedIn();
  });
  byId('oidc-sign-in').addEventListener('click', () => {
    beginSignIn(config).catch((error: unknown) => say(error instanceof Error ? error.message : String(error), 'error'));
  });
  byId('sign-out').addEventListener('click', () => {
    forgetToken();
    view.close();
    clearMessage();
    showSignIn(config);
  });

  if (config.auth === 'local') takeTokenFromFragment();
  if (config.auth === 'jwt') {
    try {
      const tokens = await completeSignIn(config);
      if (tokens) saveToken(tokens.accessToken, tokens.expiresIn);
    } catch (error) {
      say(error instanceof Error ? error.message : String(error), 'error');
    }
  }
  if (currentToken()) signedIn();
  else showSignIn(config);
}

void start();
