// One session, live. A control stream (session, phase, task, agent lifecycle,
// metrics and input events, with history) drives the timeline, the question
// banner and the input receipts, and triggers throttled re-fetches of the
// session, its tasks and its agents; the event log has its own filtered stream.

import { api, sessionPath } from './api.js';
import {
  $, ACTIVE, between, errorText, flash, fmtCost, fmtDateTime, fmtDuration, fmtTokens, refresher,
  say, setBadge, setProgress, shortId, show, syncList, throttle,
} from './dom.js';
import { setLive } from './header.js';
import { EventLog } from './log.js';
import { agentRow, chips, inputRow, taskRow } from './rows.js';
import { EventStream } from './stream.js';
import { Timeline } from './timeline.js';

const CONTROL_TYPES = 'session:*,phase:*,task:*,agent:spawned,agent:completed,agent:failed,metrics:update,input:*';
const CONTROL_HISTORY = '1000';
const REFRESH_MS = 250;
const PAGE_SIZE = 10;
const TERMINAL = new Set(['session:stopped', 'session:completed', 'session:failed']);
const ACTION_WORDS = {
  pause: 'Pause requested: it takes effect at the end of the current iteration.',
  resume: 'Resume requested.',
  stop: 'Stop requested: the provider is being ended.',
};

let current = null;

class SessionView {
  constructor(id) {
    this.id = id;
    this.live = true;
    this.session = null;
    this.agents = [];
    this.activity = new Map();
    this.tasks = { status: $('tasks-status').value, offset: 0 };
    this.timeline = new Timeline();
    this.question = null; // {id, text, answered}
    this.shownQuestion = null;
    this.inputs = new Map(); // controlId → {text, chars, state, iteration}
    this.generation = { session: 0, tasks: 0, agents: 0 };
    this.refreshSession = refresher(() => this.loadSession(), REFRESH_MS);
    this.refreshTasks = refresher(() => this.loadTasks(), REFRESH_MS);
    this.refreshAgents = refresher(() => this.loadAgents(), REFRESH_MS);
    this.renderTimelineSoon = throttle(() => this.renderTimeline(), 60);
    this.renderAgentsSoon = throttle(() => this.renderAgents(), REFRESH_MS);
    this.states = { control: 'connecting', log: 'connecting' };
  }

  mount() {
    show($('view-session'), true);
    show($('session-missing'), false);
    show($('session-body'), true);
    $('session-id').textContent = shortId(this.id);
    $('session-id').title = this.id;
    for (const id of ['tasks-body', 'agents-body', 'timeline', 'inputs']) $(id).replaceChildren();
    for (const id of ['control-ok', 'control-error', 'input-error']) say($(id), '');
    $('input-text').value = '';
    this.renderQuestion();
    this.loadSession();
    this.loadTasks();
    this.loadAgents();
    this.control = new EventStream(
      { sessionId: this.id, types: CONTROL_TYPES, history: CONTROL_HISTORY },
      { onEvent: (e) => this.onControlEvent(e), onState: (s) => this.streamState('control', s) },
    ).open();
    this.log = new EventLog(this.id, {
      onEvent: (e) => this.onLogEvent(e),
      onState: (s) => this.streamState('log', s),
    });
    this.log.open();
    this.ticker = setInterval(() => this.tick(), 1000);
  }

  unmount() {
    this.live = false;
    this.control?.close();
    this.log?.close();
    clearInterval(this.ticker);
    for (const fn of [this.refreshSession, this.refreshTasks, this.refreshAgents, this.renderTimelineSoon, this.renderAgentsSoon]) fn.cancel();
    this.question = null;
    this.renderQuestion();
    show($('view-session'), false);
  }

  streamState(which, state) {
    this.states[which] = state;
    const order = ['offline', 'reconnecting', 'connecting', 'live', 'off'];
    const worst = Object.values(this.states).filter((s) => s !== 'off').sort((a, b) => order.indexOf(a) - order.indexOf(b))[0];
    setLive(worst || 'live');
  }

  // --- loading ------------------------------------------------------------------

  async fetch(kind, path, apply) {
    const mine = ++this.generation[kind];
    try {
      const body = await api(path);
      if (this.live && mine === this.generation[kind]) apply(body);
    } catch (err) {
      if (!this.live || mine !== this.generation[kind]) return;
      if (err.status === 404) this.missing(err);
      else if (kind === 'session') say($('control-error'), `Could not load the session: ${errorText(err)}`);
    }
  }

  loadSession() {
    return this.fetch('session', sessionPath(this.id), (body) => this.renderSession(body));
  }

  loadTasks() {
    const q = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(this.tasks.offset) });
    if (this.tasks.status) q.set('status', this.tasks.status);
    return this.fetch('tasks', `${sessionPath(this.id, '/tasks')}?${q}`, (body) => this.renderTasks(body));
  }

  loadAgents() {
    return this.fetch('agents', sessionPath(this.id, '/agents'), (body) => {
      this.agents = body.agents;
      this.renderAgents();
    });
  }

  missing(err) {
    this.control?.close();
    this.log?.close();
    setLive('idle');
    show($('session-body'), false);
    show($('session-missing'), true);
    $('session-missing-text').textContent = `${err.message}. It may have been deleted.`;
  }

  // --- events -------------------------------------------------------------------

  onControlEvent(event) {
    if (this.timeline.apply(event)) this.renderTimelineSoon();
    const kind = event.type.split(':')[0];
    const d = event.data || {};
    if (kind !== 'input') this.refreshSession();
    if (kind === 'task') this.refreshTasks();
    if (kind === 'agent') this.refreshAgents();
    if (event.type === 'input:requested') {
      this.question = { id: Number(event.id), text: d.question, answered: false };
    } else if (event.type === 'input:received' || event.type === 'input:consumed') {
      const entry = this.inputs.get(d.controlId) || { text: null, chars: d.chars, state: 'received' };
      if (event.type === 'input:consumed') {
        entry.state = 'consumed';
        entry.iteration = d.iteration;
      }
      this.inputs.set(d.controlId, entry);
      if (this.question && Number(event.id) > this.question.id) this.question.answered = true;
      this.renderInputs();
    } else if (TERMINAL.has(event.type) && this.question) {
      this.question.answered = true;
    }
    if (kind === 'input' || TERMINAL.has(event.type)) this.renderQuestion();
  }

  onLogEvent(event) {
    const d = event.data || {};
    if (!d.agentId) return;
    const text = event.type === 'agent:output' ? d.text : event.type === 'log:info' ? d.message : null;
    if (!text) return;
    this.activity.set(d.agentId, { text: String(text).split('\n').filter(Boolean).pop() || '', at: event.timestamp });
    this.renderAgentsSoon();
  }

  tick() {
    const s = this.session;
    if (s && ACTIVE.has(s.status)) $('meta-duration').textContent = fmtDuration(between(s.startedAt, null));
  }

  // --- rendering ----------------------------------------------------------------

  renderSession({ session: s, tasks, agents }) {
    this.session = s;
    setBadge($('session-status'), s.status);
    $('meta-provider').textContent = s.provider;
    $('meta-phase').textContent = s.currentPhase || '—';
    $('meta-iteration').textContent = s.iteration ? String(s.iteration) : '—';
    $('meta-started').textContent = fmtDateTime(s.startedAt);
    $('meta-duration').textContent = fmtDuration(between(s.startedAt, ACTIVE.has(s.status) ? null : s.finishedAt || s.updatedAt));
    $('meta-tokens').textContent = fmtTokens(s.inputTokens + s.outputTokens);
    $('meta-tokens').title = `${s.inputTokens} in, ${s.outputTokens} out`;
    $('meta-cost').textContent = fmtCost(s.costUsd);
    setProgress($('session-progress'), s.completedTasks, s.taskCount);
    $('session-progress-text').textContent = `${s.completedTasks} of ${s.taskCount} tasks completed`;
    $('meta-prd').textContent = s.prdPath ? `PRD ${s.prdPath}` : s.dryRun ? 'Dry run' : 'No PRD: codebase analysis';
    say($('meta-reason'), s.reason ? `Ended: ${s.reason}` : '');
    $('tasks-summary').replaceChildren(...chips(tasks, ['running', 'pending', 'queued', 'completed', 'failed', 'skipped']));
    // The counts moved past the table on screen: fetch the page now, not on the next tick.
    if (this.taskSummary !== undefined && JSON.stringify(tasks) !== this.taskSummary) this.loadTasks();
    $('agents-summary').replaceChildren(...chips(agents, ['active', 'completed', 'failed']));
    document.title = `${shortId(s.id)} ${s.status} · Loki Mode`;
    this.renderQuestion();
  }

  renderTasks(page) {
    const { tasks, pagination: p } = page;
    this.taskSummary = JSON.stringify(page.summary);
    if (tasks.length === 0 && p.total > 0 && this.tasks.offset > 0) {
      this.tasks.offset = Math.max(0, Math.floor((p.total - 1) / PAGE_SIZE) * PAGE_SIZE);
      this.loadTasks();
      return;
    }
    syncList($('tasks-body'), tasks, (t) => t.id, taskRow);
    show($('tasks-empty'), tasks.length === 0);
    show($('tasks-table'), tasks.length > 0);
    $('tasks-range').textContent = p.total ? `${p.offset + 1}–${p.offset + tasks.length} of ${p.total}` : '0 of 0';
    $('tasks-prev').disabled = p.offset === 0;
    $('tasks-next').disabled = !p.hasMore;
  }

  renderAgents() {
    const rank = (a) => (a.status === 'active' ? 0 : 1);
    const agents = [...this.agents].sort((a, b) => rank(a) - rank(b) || (a.spawnedAt < b.spawnedAt ? 1 : -1));
    syncList($('agents-body'), agents, (a) => a.id, (a) => agentRow(a, this.activity.get(a.id)));
    show($('agents-empty'), agents.length === 0);
    show($('agents-table'), agents.length > 0);
  }

  renderTimeline() {
    const count = this.timeline.render($('timeline'));
    show($('timeline-empty'), count === 0);
  }

  renderInputs() {
    const items = [...this.inputs.entries()].map(([controlId, v]) => ({ controlId, ...v }));
    syncList($('inputs'), items, (i) => i.controlId, inputRow);
  }

  renderQuestion() {
    const q = this.question;
    const active = !this.session || ACTIVE.has(this.session.status);
    const pending = Boolean(q && !q.answered && active && this.live);
    const form = $('input-form');
    const text = $('input-text');
    show($('question'), pending);
    show($('input-moved'), pending);
    if (pending) {
      $('question-text').textContent = q.text;
      if (form.parentElement !== $('question-slot')) $('question-slot').append(form);
      text.setAttribute('aria-describedby', 'question-text input-hint input-error');
      if (this.shownQuestion !== q.id) {
        this.shownQuestion = q.id;
        $('question').scrollIntoView({ block: 'start' });
        text.focus();
      }
    } else if (form.parentElement !== $('input-home')) {
      const hadFocus = document.activeElement === text;
      $('input-home').append(form);
      text.setAttribute('aria-describedby', 'input-hint input-error');
      if (hadFocus) text.focus();
    }
  }

  // --- actions ------------------------------------------------------------------

  async act(action, button) {
    say($('control-ok'), '');
    say($('control-error'), '');
    if (action === 'delete' && !(await confirmDelete(this.id))) return;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      if (action === 'delete') {
        await api(sessionPath(this.id), { method: 'DELETE' });
        flash(`Session ${shortId(this.id)} deleted.`);
        location.hash = '#/';
        return;
      }
      await api(sessionPath(this.id, `/${action}`), { method: 'POST' });
      say($('control-ok'), ACTION_WORDS[action]);
      this.refreshSession();
    } catch (err) {
      say($('control-error'), `${action[0].toUpperCase()}${action.slice(1)} refused: ${errorText(err)}`);
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  }

  async sendInput() {
    const text = $('input-text');
    const send = $('input-send');
    say($('input-error'), '');
    send.disabled = true;
    try {
      const r = await api(sessionPath(this.id, '/input'), { method: 'POST', body: { input: text.value } });
      const entry = this.inputs.get(r.controlId) || { state: 'received' };
      this.inputs.set(r.controlId, { ...entry, text: text.value, chars: text.value.length });
      text.value = '';
      if (this.question) this.question.answered = true;
      this.renderInputs();
      this.renderQuestion();
    } catch (err) {
      say($('input-error'), `Not sent: ${errorText(err)}`);
      text.focus();
    } finally {
      send.disabled = false;
    }
  }
}

function confirmDelete(id) {
  const dialog = $('confirm-dialog');
  $('confirm-title').textContent = `Delete session ${shortId(id)}?`;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true });
  });
}

// --- wiring -----------------------------------------------------------------------

export function initSession() {
  for (const button of document.querySelectorAll('#view-session [data-action]')) {
    button.addEventListener('click', () => current?.act(button.dataset.action, button));
  }
  $('input-form').addEventListener('submit', (event) => {
    event.preventDefault();
    current?.sendInput();
  });
  $('input-text').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      current?.sendInput();
    }
  });
  $('tasks-status').addEventListener('change', () => {
    if (!current) return;
    current.tasks = { status: $('tasks-status').value, offset: 0 };
    current.loadTasks();
  });
  $('tasks-prev').addEventListener('click', () => {
    if (!current) return;
    current.tasks.offset = Math.max(0, current.tasks.offset - PAGE_SIZE);
    current.loadTasks();
  });
  $('tasks-next').addEventListener('click', () => {
    if (!current) return;
    current.tasks.offset += PAGE_SIZE;
    current.loadTasks();
  });
  $('log-filters').addEventListener('change', (event) => {
    if (event.target.id === 'log-follow' || !current) return;
    current.log.open();
  });
  $('log-filters').addEventListener('submit', (event) => event.preventDefault());
}

export function mountSession(id) {
  current = new SessionView(id);
  current.mount();
  return () => {
    current.unmount();
    current = null;
  };
}
