// The timeline of a session: its iterations and, inside each, the phases the
// agent announced, built from the event stream. An iteration starts with the
// `agent:spawned` of its main agent (main-N) and its task "Iteration N" carries
// its status; `phase:started` names the iteration it started in, while a
// `phase:completed` may arrive in a later iteration, so it closes the newest
// open phase of that name wherever it is.

import { badge, between, fmtDuration, fmtTime, h } from './dom.js';

const MAIN_AGENT = /^main-(\d+)$/;
const ITERATION_TASK = /^Iteration (\d+)$/;

export class Timeline {
  constructor() {
    this.iterations = new Map();
  }

  iteration(n, timestamp) {
    let it = this.iterations.get(n);
    if (!it) {
      it = { n, status: 'running', startedAt: timestamp, endedAt: null, phases: [] };
      this.iterations.set(n, it);
    }
    return it;
  }

  newest() {
    let best = null;
    for (const it of this.iterations.values()) if (!best || it.n > best.n) best = it;
    return best;
  }

  openPhase(name) {
    const sorted = [...this.iterations.values()].sort((a, b) => b.n - a.n);
    for (const it of sorted) {
      for (let i = it.phases.length - 1; i >= 0; i -= 1) {
        const p = it.phases[i];
        if (p.name === name && p.status === 'active') return p;
      }
    }
    return null;
  }

  /** Fold one event in; true when the timeline changed. */
  apply(event) {
    const { type, data = {}, timestamp } = event;
    if (type === 'agent:spawned') {
      const m = MAIN_AGENT.exec(data.agentId || '');
      if (!m) return false;
      this.iteration(Number(m[1]), timestamp);
      return true;
    }
    if (type.startsWith('task:')) {
      const m = ITERATION_TASK.exec(data.title || '');
      if (!m) return false;
      const it = this.iteration(Number(m[1]), timestamp);
      it.status = data.status;
      if (['completed', 'failed', 'skipped'].includes(data.status)) it.endedAt = timestamp;
      return true;
    }
    if (type === 'phase:started') {
      const n = data.iteration ?? this.newest()?.n ?? 1;
      this.iteration(n, timestamp).phases.push({ name: data.phase, status: 'active', startedAt: timestamp });
      return true;
    }
    if (type === 'phase:completed' || type === 'phase:failed') {
      const open = this.openPhase(data.phase);
      if (!open) return false;
      open.status = type === 'phase:completed' ? 'completed' : 'failed';
      open.endedAt = timestamp;
      return true;
    }
    return false;
  }

  render(list) {
    const items = [...this.iterations.values()].sort((a, b) => b.n - a.n);
    list.replaceChildren(...items.map((it) => {
      const ended = it.endedAt || (it.status === 'running' ? null : it.startedAt);
      return h('li', { class: 'tl-item', dataset: { iteration: it.n, status: it.status } },
        h('span', { class: 'tl-dot', 'aria-hidden': 'true' }),
        h('div', { class: 'tl-body' },
          h('div', { class: 'tl-head' },
            h('strong', {}, `Iteration ${it.n}`),
            badge(it.status),
            h('span', { class: 'muted small num' },
              `${fmtTime(it.startedAt)} · ${fmtDuration(between(it.startedAt, ended))}`)),
          it.phases.length
            ? h('ol', { class: 'phases', 'aria-label': `Phases of iteration ${it.n}` },
              it.phases.map((p) => h('li', { class: 'phase', dataset: { status: p.status } },
                h('span', { class: 'visually-hidden' }, `${p.status}: `), p.name)))
            : h('p', { class: 'muted small' }, 'No phase announced.')));
    }));
    return items.length;
  }
}
