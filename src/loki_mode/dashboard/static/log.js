// The live event log of one session: its own /api/events stream, filtered on the
// server by `types` and `minLevel` (changing a filter reopens the stream with a
// fresh history), shown oldest first with the newest followed at the bottom.

import { $, fmtCost, fmtTime, h } from './dom.js';
import { EventStream } from './stream.js';

const HISTORY = 200;
const MAX_ENTRIES = 1000;
const CATEGORIES = ['session', 'phase', 'task', 'agent', 'log', 'metrics', 'input'];
const STATE_WORDS = {
  connecting: 'connecting', live: 'live', reconnecting: 'reconnecting…', offline: 'offline, retrying', off: 'no type selected',
};

function clip(text, n = 400) {
  const s = String(text ?? '');
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** One line of text for an event, by type. */
export function describe(event) {
  const d = event.data || {};
  const [kind] = event.type.split(':');
  switch (kind) {
    case 'log': return clip(d.message);
    case 'task': return `${d.title || d.taskId} → ${d.status}`;
    case 'phase': return `${d.phase}${d.iteration ? ` (iteration ${d.iteration})` : ''}`;
    case 'metrics': return `${d.model || 'usage'}: ${d.inputTokens ?? 0} in, ${d.outputTokens ?? 0} out, ${fmtCost(d.costUsd)}`;
    case 'agent':
      if (event.type === 'agent:output') return `${d.agentId}: ${clip(d.text)}`;
      if (event.type === 'agent:spawned') return `${d.agentId} (${d.type}): ${d.description}`;
      return `${d.agentId}${d.reason ? `: ${d.reason}` : d.result ? `: ${clip(d.result, 200)}` : d.exitCode !== undefined ? ` exit code ${d.exitCode}` : ''}`;
    case 'input':
      if (event.type === 'input:requested') return `Question: ${d.question}`;
      if (event.type === 'input:received') return `Input received (${d.chars} characters)`;
      return `Input consumed in iteration ${d.iteration}`;
    case 'session':
      if (event.type === 'session:started') return `${d.provider}${d.dryRun ? ', dry run' : ''}${d.prdPath ? `, PRD ${d.prdPath}` : ''}`;
      return d.reason || (d.iteration !== undefined ? `at iteration ${d.iteration}` : '');
    default: return clip(JSON.stringify(d), 200);
  }
}

export class EventLog {
  constructor(sessionId, { onEvent = () => {}, onState = () => {} } = {}) {
    this.sessionId = sessionId;
    this.onEvent = onEvent;
    this.onState = onState;
    this.stream = null;
    this.count = 0;
    this.list = $('log');
  }

  query() {
    const checked = [...document.querySelectorAll('#log-filters input[name=type]:checked')].map((i) => i.value);
    if (checked.length === 0) return null;
    const types = checked.length === CATEGORIES.length ? '' : checked.map((c) => (c === 'metrics' ? 'metrics:update' : `${c}:*`)).join(',');
    return { sessionId: this.sessionId, types, minLevel: $('log-level').value, history: String(HISTORY) };
  }

  open() {
    if (this.stream) this.stream.close();
    this.stream = null;
    this.list.replaceChildren();
    this.count = 0;
    this.list.dataset.lastId = '';
    this.list.dataset.duplicates = '0';
    $('log-count').textContent = '0';
    const query = this.query();
    if (!query) {
      this.state('off');
      return;
    }
    this.stream = new EventStream(query, {
      onEvent: (event) => this.add(event),
      onState: (state) => this.state(state),
    }).open();
  }

  state(state) {
    $('log-state').textContent = STATE_WORDS[state] || state;
    this.list.dataset.state = state;
    this.onState(state);
  }

  add(event) {
    // Heartbeats are the server's pulse, not the session's history: they keep the
    // stream's state fresh but take no line in the log.
    if (event.type === 'heartbeat') return;
    const level = event.type.startsWith('log:') ? event.type.slice(4) : null;
    const entry = h('li', { class: 'entry', dataset: { id: event.id, type: event.type, cat: event.type.split(':')[0], level } },
      h('time', { datetime: event.timestamp, class: 'num' }, fmtTime(event.timestamp)),
      h('span', { class: 'etype' }, event.type),
      h('span', { class: 'emsg' }, describe(event)));
    const follow = $('log-follow').checked;
    this.list.append(entry);
    while (this.list.childElementCount > MAX_ENTRIES) this.list.firstElementChild.remove();
    this.count += 1;
    $('log-count').textContent = String(this.count);
    this.list.dataset.lastId = String(this.stream.lastId ?? '');
    this.list.dataset.duplicates = String(this.stream.duplicates);
    if (follow) this.list.scrollTop = this.list.scrollHeight;
    this.onEvent(event);
  }

  close() {
    if (this.stream) this.stream.close();
    this.stream = null;
  }
}
