// Table rows and list items of the session view, built from API objects.

import { badge, between, fmtDuration, fmtTime, h } from './dom.js';

const FINISHED_TASK = new Set(['completed', 'failed', 'skipped']);

export function chips(counts, keys) {
  return keys.filter((k) => counts[k]).map((k) => h('span', { class: 'chip', dataset: { status: k } }, `${counts[k]} ${k}`));
}

export function taskRow(t) {
  return h('tr', { dataset: { taskId: t.id, status: t.status } },
    h('td', { 'data-label': 'Task' }, h('span', { class: 'title' }, t.title),
      t.description && t.description !== t.title ? h('span', { class: 'sub' }, t.description) : null,
      t.error ? h('span', { class: 'sub error-text' }, t.error.slice(0, 300)) : null),
    h('td', { 'data-label': 'Status' }, badge(t.status)),
    h('td', { 'data-label': 'Agent' }, t.agent ? h('code', {}, t.agent) : '—'),
    h('td', { 'data-label': 'Started', class: 'num' }, fmtTime(t.startedAt)),
    h('td', { 'data-label': 'Finished', class: 'num' }, FINISHED_TASK.has(t.status) ? fmtTime(t.completedAt) : '—'));
}

export function agentRow(a, activity) {
  // Sub-agent ids are "<iteration>:<provider's id>"; the tail tells them apart.
  const raw = a.id.includes(':') ? a.id.slice(a.id.indexOf(':') + 1) : a.id;
  const label = raw.startsWith('main-') || raw.length <= 10 ? raw : `…${raw.slice(-6)}`;
  const doing = a.status === 'active' && activity ? activity.text : null;
  return h('tr', { dataset: { agentId: a.id, status: a.status } },
    h('td', { 'data-label': 'Agent' }, h('span', { class: 'title' }, a.type), h('code', { class: 'sub', title: a.id }, label)),
    h('td', { 'data-label': 'Doing' }, h('span', {}, a.description || '—'),
      doing ? h('span', { class: 'sub activity' }, doing.slice(0, 160)) : null,
      a.parent ? h('span', { class: 'sub' }, `sub-agent of ${a.parent}`) : null),
    h('td', { 'data-label': 'Status' }, badge(a.status)),
    h('td', { 'data-label': 'Iteration', class: 'num' }, String(a.iteration || '—')),
    h('td', { 'data-label': 'Time', class: 'num' },
      `${fmtTime(a.spawnedAt)} · ${fmtDuration(between(a.spawnedAt, a.finishedAt))}`));
}

export function inputRow(i) {
  const words = i.state === 'consumed'
    ? `Consumed by the agent in iteration ${i.iteration}`
    : 'Received, waiting for the agent to take it';
  const what = i.text !== null && i.text !== undefined ? `“${i.text.length > 140 ? `${i.text.slice(0, 140)}…` : i.text}”` : `Input of ${i.chars} characters`;
  return h('li', { class: 'input-item', dataset: { controlId: i.controlId, state: i.state } },
    h('span', { class: 'input-text' }, what),
    h('span', { class: 'input-state' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), words));
}
