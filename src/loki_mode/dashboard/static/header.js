// The top bar: server health (GET /health answers 200 or 503, both with a body),
// which provider CLIs are available, and whether the live event stream is up.

import { api } from './api.js';
import { $, h } from './dom.js';

const HEALTH_EVERY_MS = 15000;
const PROVIDER_NAMES = ['claude', 'codex', 'gemini'];
const LIVE_LABELS = {
  idle: 'Idle',
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline, retrying',
};

let providers = null;
const providerListeners = [];

/** Call `fn(providers)` now (when known) and whenever availability changes. */
export function onProviders(fn) {
  providerListeners.push(fn);
  if (providers) fn(providers);
}

function renderHealth(body, reachable) {
  const pill = $('health');
  if (!reachable) {
    pill.dataset.status = 'unreachable';
    pill.textContent = 'Server unreachable';
    return;
  }
  const status = body.status || 'unknown';
  const words = { healthy: 'Healthy', degraded: 'Degraded: no provider CLI', unhealthy: 'Unhealthy: store unavailable' };
  pill.dataset.status = status;
  pill.textContent = `${words[status] || status} · v${body.version}`;
  pill.title = `Server ${status}, version ${body.version}`;

  const next = body.providers || {};
  if (JSON.stringify(next) === JSON.stringify(providers)) return;
  providers = next;
  $('providers').replaceChildren(
    ...PROVIDER_NAMES.map((name) =>
      h('li', { dataset: { available: String(Boolean(next[name])) }, title: next[name] ? `${name} CLI found` : `${name} CLI not found` },
        h('span', { class: 'dot', 'aria-hidden': 'true' }),
        name,
        h('span', { class: 'visually-hidden' }, next[name] ? ' available' : ' not available'))),
  );
  for (const fn of providerListeners) fn(providers);
}

export async function refreshHealth() {
  try {
    renderHealth(await api('/health', { accept: [503] }), true);
  } catch {
    renderHealth(null, false);
  }
}

export function startHealth() {
  refreshHealth();
  setInterval(refreshHealth, HEALTH_EVERY_MS);
}

export function setLive(state) {
  const el = $('live');
  if (el.dataset.state === state) return;
  el.dataset.state = state;
  el.textContent = LIVE_LABELS[state] || state;
}
