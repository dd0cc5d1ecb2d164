// One /api/events subscription. EventSource fires `onmessage` only for unnamed
// events, so a listener is added for every known type. Events are delivered once
// and in order: the browser resends Last-Event-ID when it reconnects (the server
// resumes after it), and ids at or below the last one seen are dropped here too.
// When the browser gives up (an HTTP error, e.g. 401 or a restart mid-handshake),
// the stream reopens itself with `lastEventId` after `beforeReopen` (a sign-in).

import { ensureSignedIn } from './api.js';

export const EVENT_TYPES = [
  'session:started', 'session:paused', 'session:resumed', 'session:stopped',
  'session:completed', 'session:failed',
  'phase:started', 'phase:completed', 'phase:failed',
  'task:created', 'task:started', 'task:progress', 'task:completed', 'task:failed',
  'agent:spawned', 'agent:output', 'agent:completed', 'agent:failed',
  'log:debug', 'log:info', 'log:warn', 'log:error',
  'metrics:update', 'input:requested', 'input:received', 'input:consumed', 'heartbeat',
];

const MAX_RETRY_MS = 15000;

export class EventStream {
  /**
   * @param {Record<string,string>} query  sessionId, types, minLevel, history
   * @param {{onEvent: Function, onState?: Function, beforeReopen?: Function}} hooks
   */
  constructor(query, { onEvent, onState = () => {}, beforeReopen = ensureSignedIn }) {
    this.query = Object.fromEntries(Object.entries(query).filter(([, v]) => v !== '' && v != null));
    this.onEvent = onEvent;
    this.onState = onState;
    this.beforeReopen = beforeReopen;
    this.lastId = null;
    this.duplicates = 0;
    this.source = null;
    this.closed = false;
    this.retryMs = 1000;
    this.timer = null;
    this.state = 'connecting';
    this.receive = this.receive.bind(this);
  }

  open() {
    const params = new URLSearchParams(this.query);
    if (this.lastId !== null) {
      params.delete('history');
      params.set('lastEventId', String(this.lastId));
    }
    const source = new EventSource(`/api/events?${params}`);
    for (const type of EVENT_TYPES) source.addEventListener(type, this.receive);
    source.onmessage = this.receive;
    source.onopen = () => {
      this.retryMs = 1000;
      this.setState('live');
    };
    source.onerror = () => {
      if (this.closed || source !== this.source) return;
      if (source.readyState === EventSource.CLOSED) {
        this.setState('offline');
        this.reopenLater();
      } else {
        this.setState('reconnecting');
      }
    };
    this.source = source;
    this.setState('connecting');
    return this;
  }

  receive(message) {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    const seq = /^\d+$/.test(String(event.id)) ? Number(event.id) : null;
    if (seq !== null) {
      if (this.lastId !== null && seq <= this.lastId) {
        this.duplicates += 1;
        return;
      }
      this.lastId = seq;
    }
    if (this.state !== 'live') this.setState('live');
    this.onEvent(event);
  }

  reopenLater() {
    this.source.close();
    clearTimeout(this.timer);
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    this.timer = setTimeout(async () => {
      if (this.closed) return;
      try {
        await this.beforeReopen();
      } catch {
        /* still down: try again later */
      }
      if (!this.closed) this.open();
    }, wait);
  }

  setState(state) {
    this.state = state;
    this.onState(state);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.source) this.source.close();
  }
}
