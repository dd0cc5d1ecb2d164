// Remote use: the API answers 401 to a non-loopback browser without the token.
// The page asks once, keeps the token in sessionStorage (this tab only, gone when
// it closes), sends it as a Bearer header on every fetch, and trades it at
// POST /api/auth for an HttpOnly, SameSite=Strict cookie that EventSource (which
// cannot send headers) carries. The token never goes into a URL.

import { $, say } from './dom.js';

const KEY = 'loki.token';
let asking = null;

export function getToken() {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function forgetToken() {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    /* storage disabled: nothing kept */
  }
}

async function signIn(token) {
  const res = await fetch('/api/auth', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ token }),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (res.ok) return null;
  try {
    return (await res.json()).error || `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}

/** Renew the stream cookie from the token this tab holds (no-op without one). */
export async function refreshCookie() {
  const token = getToken();
  if (!token) return;
  try {
    if ((await signIn(token)) !== null) forgetToken();
  } catch {
    /* server unreachable: the next request reports it */
  }
}

/** Ask for the token (one dialog however many requests were refused); resolves once signed in. */
export function requestToken() {
  if (!asking) asking = ask().finally(() => { asking = null; });
  return asking;
}

function ask() {
  const dialog = $('auth-dialog');
  const form = $('auth-form');
  const input = $('auth-token');
  const error = $('auth-error');
  const submit = $('auth-submit');
  say(error, '');
  input.value = '';
  return new Promise((resolve) => {
    const onSubmit = async (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (!token) {
        say(error, 'Enter the API token.');
        input.focus();
        return;
      }
      submit.disabled = true;
      let problem;
      try {
        problem = await signIn(token);
      } catch {
        problem = 'The server cannot be reached.';
      }
      submit.disabled = false;
      if (problem !== null) {
        say(error, `That token was not accepted: ${problem}`);
        input.select();
        return;
      }
      try {
        sessionStorage.setItem(KEY, token);
      } catch {
        /* the cookie still works for this browser session */
      }
      form.removeEventListener('submit', onSubmit);
      dialog.removeEventListener('cancel', onCancel);
      dialog.close();
      resolve();
    };
    // Without the token nothing works: Escape keeps the dialog open.
    const onCancel = (event) => event.preventDefault();
    form.addEventListener('submit', onSubmit);
    dialog.addEventListener('cancel', onCancel);
    if (!dialog.open) dialog.showModal();
    input.focus();
  });
}
