// Small DOM and formatting helpers shared by every view. Text is always set with
// textContent, never parsed as HTML: what an agent prints stays text.

export const $ = (id) => document.getElementById(id);

/** h('td', {class: 'num', dataset: {label: 'Cost'}}, 'text', node, [more]) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') {
      for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) el.dataset[k] = v;
    }
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

export function show(el, visible) {
  el.hidden = !visible;
}

let flashTimer = null;

/** A short confirmation at the top of the page (e.g. after a delete). */
export function flash(text) {
  const el = document.getElementById('flash');
  say(el, text);
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => say(el, ''), 8000);
}

export function say(el, text) {
  el.textContent = text || '';
  el.hidden = !text;
}

/**
 * Keep `container`'s children in step with `items`: one element per key, created
 * once, rebuilt only when the item changed, moved only when the order changed.
 */
export function syncList(container, items, key, build) {
  const existing = new Map();
  for (const el of container.children) existing.set(el.dataset.key, el);
  const wanted = new Set();
  items.forEach((item, index) => {
    const k = String(key(item));
    wanted.add(k);
    const sig = JSON.stringify(item);
    let el = existing.get(k);
    if (!el) {
      el = build(item);
      el.dataset.key = k;
      el.dataset.sig = sig;
    } else if (el.dataset.sig !== sig) {
      const fresh = build(item);
      el.replaceChildren(...fresh.childNodes);
      for (const { name, value } of fresh.attributes) el.setAttribute(name, value);
      el.dataset.key = k;
      el.dataset.sig = sig;
    }
    if (container.children[index] !== el) container.insertBefore(el, container.children[index] || null);
  });
  for (const [k, el] of existing) if (!wanted.has(k)) el.remove();
}

/**
 * Run `fn` at most once per `ms`: the first call schedules it, later calls in the
 * window join that run. Events drive refreshes; bursts cost one request.
 */
export function throttle(fn, ms) {
  let timer = null;
  const wrapped = () => {
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      fn();
    }, ms);
  };
  wrapped.cancel = () => {
    clearTimeout(timer);
    timer = null;
  };
  return wrapped;
}

/**
 * Event-driven re-fetch: runs `load` (async) at most once per `ms`, never two at
 * once; events that arrive while it runs earn one more run after it. However
 * slow the server, every burst ends with a fetch that saw all of it.
 */
export function refresher(load, ms) {
  let timer = null;
  let running = false;
  let again = false;
  const run = async () => {
    timer = null;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await load();
    } finally {
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  };
  const schedule = () => {
    if (timer === null) timer = setTimeout(run, ms);
  };
  schedule.cancel = () => {
    clearTimeout(timer);
    timer = null;
    again = false;
  };
  return schedule;
}

// --- formatting -------------------------------------------------------------

const timeFmt = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
});
const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
  month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
});

export function parseTime(iso) {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? null : t;
}

export function fmtTime(iso) {
  const t = parseTime(iso);
  return t === null ? '—' : timeFmt.format(t);
}

export function fmtDateTime(iso) {
  const t = parseTime(iso);
  if (t === null) return '—';
  const sameDay = new Date(t).toDateString() === new Date().toDateString();
  return sameDay ? timeFmt.format(t) : dateTimeFmt.format(t);
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined || ms < 0) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const hours = Math.floor(m / 60);
  return `${hours}h ${String(m % 60).padStart(2, '0')}m`;
}

export function between(startIso, endIso) {
  const a = parseTime(startIso);
  const b = endIso ? parseTime(endIso) : Date.now();
  return a === null || b === null ? null : b - a;
}

export function fmtTokens(n) {
  if (!n) return '0';
  if (n < 1000) return String(n);
  if (n < 1e6) return `${(n / 1000).toFixed(n < 1e4 ? 1 : 0)}k`;
  return `${(n / 1e6).toFixed(1)}M`;
}

export function fmtCost(usd) {
  if (!usd) return '$0.00';
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

export function shortId(id) {
  return String(id || '').slice(0, 8);
}

export function basename(path) {
  return path ? String(path).split('/').pop() : '';
}

// --- shared widgets -----------------------------------------------------------

export const ACTIVE = new Set(['starting', 'running', 'paused', 'stopping']);

export function badge(status) {
  return h('span', { class: 'badge', dataset: { status } }, status);
}

export function setBadge(el, status) {
  el.dataset.status = status;
  el.textContent = status;
}

export function progress(done, total, label) {
  const el = h('div', {
    class: 'progress', role: 'progressbar', 'aria-label': label,
    'aria-valuemin': 0, 'aria-valuemax': total, 'aria-valuenow': done,
    'aria-valuetext': `${done} of ${total}`,
  }, h('span', { class: 'bar' }));
  setProgress(el, done, total);
  return el;
}

export function setProgress(el, done, total) {
  el.setAttribute('aria-valuemax', String(total));
  el.setAttribute('aria-valuenow', String(done));
  el.setAttribute('aria-valuetext', `${done} of ${total}`);
  const pct = total > 0 ? Math.min(100, (100 * done) / total) : 0;
  el.firstElementChild.style.width = `${pct}%`;
}

/** The server's ApiError as one readable line: what went wrong and its code. */
export function errorText(err) {
  if (!err) return '';
  if (err.status === 0) return err.message;
  const code = err.code ? ` (${err.status} ${err.code})` : ` (${err.status})`;
  return `${err.message}${code}`;
}
