// The overview: every session newest first, and the form that starts one.
// The list follows the event stream (one throttled re-fetch per burst of events)
// with a slow safety refresh; the form shows the server's validation errors
// next to the field they are about.

import { api } from './api.js';
import {
  $, badge, basename, errorText, fmtCost, fmtDateTime, fmtTokens, h, progress, say, shortId,
  refresher, show, syncList,
} from './dom.js';
import { onProviders, setLive } from './header.js';
import { EventStream } from './stream.js';

const SAFETY_REFRESH_MS = 12000;
const EVENT_REFRESH_MS = 250;
const LIST_TYPES = 'session:*,phase:*,task:*,agent:spawned,metrics:update';
const FIELDS = { prdPath: 'start-prd', timeout: 'start-timeout', provider: 'start-provider' };
const PROVIDER_LABELS = { claude: 'Claude Code', codex: 'Codex', gemini: 'Gemini' };

let stream = null;
let timer = null;
let loadGeneration = 0;

// --- the session list ---------------------------------------------------------

function sessionRow(s) {
  const done = s.completedTasks || 0;
  const total = s.taskCount || 0;
  const what = [s.prdPath ? basename(s.prdPath) : 'codebase analysis', s.dryRun ? 'dry run' : null]
    .filter(Boolean).join(' · ');
  return h('tr', { dataset: { sessionId: s.id, status: s.status } },
    h('td', { 'data-label': 'Session' },
      h('a', { href: `#/sessions/${encodeURIComponent(s.id)}`, class: 'session-link', 'aria-label': `Session ${shortId(s.id)}, ${s.status}` },
        h('code', {}, shortId(s.id))),
      h('span', { class: 'sub' }, what)),
    h('td', { 'data-label': 'Status' }, badge(s.status)),
    h('td', { 'data-label': 'Provider' }, s.provider),
    h('td', { 'data-label': 'Phase' }, s.currentPhase || '—'),
    h('td', { 'data-label': 'Progress', class: 'col-progress' },
      h('div', { class: 'progress-cell' },
        progress(done, total, `Tasks completed in session ${shortId(s.id)}`),
        h('span', { class: 'num small muted' }, `${done}/${total}`))),
    h('td', { 'data-label': 'Started' }, h('time', { datetime: s.startedAt, title: s.startedAt }, fmtDateTime(s.startedAt))),
    h('td', { 'data-label': 'Tokens', class: 'num', title: `${s.inputTokens} in, ${s.outputTokens} out` },
      fmtTokens((s.inputTokens || 0) + (s.outputTokens || 0))),
    h('td', { 'data-label': 'Cost', class: 'num' }, fmtCost(s.costUsd)),
  );
}

function renderSessions(list) {
  const sessions = [...list.sessions].sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0));
  syncList($('sessions-body'), sessions, (s) => s.id, sessionRow);
  show($('sessions-empty'), sessions.length === 0);
  show($('sessions-table'), sessions.length > 0);
  const active = list.running || 0;
  $('sessions-summary').textContent = `${list.total} ${list.total === 1 ? 'session' : 'sessions'} · ${active} active`;
  const count = (...statuses) => sessions.filter((s) => statuses.includes(s.status)).length;
  const sum = (pick) => sessions.reduce((total, s) => total + (pick(s) || 0), 0);
  $('stat-active').textContent = String(active);
  $('stat-completed').textContent = String(count('completed'));
  $('stat-ended').textContent = String(count('failed', 'stopped'));
  $('stat-tokens').textContent = fmtTokens(sum((s) => s.inputTokens + s.outputTokens));
  $('stat-cost').textContent = fmtCost(sum((s) => s.costUsd));
}

async function loadSessions() {
  const mine = ++loadGeneration;
  try {
    const list = await api('/api/sessions');
    if (mine === loadGeneration && stream) renderSessions(list);
  } catch (err) {
    if (mine === loadGeneration) $('sessions-summary').textContent = `Could not load sessions: ${errorText(err)}`;
  }
}

const refreshSoon = refresher(loadSessions, EVENT_REFRESH_MS);

// --- the start form -----------------------------------------------------------

function clearErrors() {
  for (const id of Object.values(FIELDS)) {
    $(id).removeAttribute('aria-invalid');
    say($(`${id}-error`), '');
  }
  const box = $('start-error');
  box.replaceChildren();
  box.hidden = true;
}

/** Which form field a server error is about: details.field, or msgspec's `$.path`. */
function fieldOf(err) {
  const named = err.details.field || err.details.parameter;
  if (named && FIELDS[named]) return named;
  const path = /`\$\.(?:options\.)?(\w+)`/.exec(err.message);
  if (path && FIELDS[path[1]]) return path[1];
  if (err.code === 'PROVIDER_NOT_AVAILABLE') return 'provider';
  return null;
}

function showStartError(err) {
  const box = $('start-error');
  box.replaceChildren(h('strong', {}, 'Not started. '), errorText(err));
  if (err.code === 'SESSION_ALREADY_RUNNING' && err.details.sessionId) {
    box.append(' ', h('a', { href: `#/sessions/${encodeURIComponent(err.details.sessionId)}` }, 'Open the running session'));
  }
  box.hidden = false;
  const field = fieldOf(err);
  if (field) {
    const input = $(FIELDS[field]);
    input.setAttribute('aria-invalid', 'true');
    say($(`${FIELDS[field]}-error`), err.message);
    input.focus();
  }
}

async function startSession(event) {
  event.preventDefault();
  clearErrors();
  const submit = $('start-submit');
  const body = { provider: $('start-provider').value, options: { dryRun: $('start-dry').checked } };
  const prd = $('start-prd').value.trim();
  if (prd) body.prdPath = prd;
  const timeout = $('start-timeout').value.trim();
  if (timeout) body.options.timeout = /^-?\d+$/.test(timeout) ? Number(timeout) : timeout;
  submit.disabled = true;
  submit.textContent = 'Starting…';
  try {
    const started = await api('/api/sessions', { method: 'POST', body });
    $('start-form').reset();
    location.hash = `#/sessions/${encodeURIComponent(started.sessionId)}`;
  } catch (err) {
    showStartError(err);
  } finally {
    submit.disabled = false;
    submit.textContent = 'Start session';
  }
}

function markProviders(available) {
  for (const option of $('start-provider').options) {
    const ok = available[option.value];
    option.textContent = ok ? PROVIDER_LABELS[option.value] : `${PROVIDER_LABELS[option.value]} (CLI not found)`;
  }
}

export function initOverview() {
  $('start-form').addEventListener('submit', startSession);
  for (const id of Object.values(FIELDS)) {
    $(id).addEventListener('input', () => {
      $(id).removeAttribute('aria-invalid');
      say($(`${id}-error`), '');
    });
  }
  onProviders(markProviders);
}

// --- mounting -------------------------------------------------------------------

export function mountOverview() {
  show($('view-overview'), true);
  stream = new EventStream({ types: LIST_TYPES }, { onEvent: refreshSoon, onState: setLive }).open();
  loadSessions();
  timer = setInterval(loadSessions, SAFETY_REFRESH_MS);
  return () => {
    stream.close();
    stream = null;
    clearInterval(timer);
    refreshSoon.cancel();
    show($('view-overview'), false);
  };
}
