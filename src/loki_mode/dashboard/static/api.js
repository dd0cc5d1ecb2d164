// Every call to the API goes through `api()`: JSON in and out, the Bearer token
// when this tab holds one, a sign-in on 401, and the server's ApiError
// ({error, code, details}) raised as an ApiError with its status.

import { forgetToken, getToken, refreshCookie, requestToken } from './auth.js';

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = (body && body.code) || '';
    this.details = (body && body.details) || {};
  }
}

async function parse(res) {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { error: text.slice(0, 300), code: '', details: {} };
  }
}

/**
 * api('/api/sessions', {method: 'POST', body: {...}}) → parsed JSON.
 * `accept` lists extra statuses whose body is returned, not raised (e.g. 503 of /health).
 */
export async function api(path, { method = 'GET', body, accept = [] } = {}) {
  for (let attempt = 0; ; attempt += 1) {
    const token = getToken();
    const headers = { Accept: 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch {
      throw new ApiError(0, { error: 'The server cannot be reached.', code: 'NETWORK_ERROR' });
    }
    if (res.status === 401 && attempt < 3) {
      if (token) forgetToken();
      await requestToken();
      continue;
    }
    const data = await parse(res);
    if (res.ok || accept.includes(res.status)) return data;
    throw new ApiError(res.status, data);
  }
}

export const sessionPath = (id, rest = '') => `/api/sessions/${encodeURIComponent(id)}${rest}`;

/**
 * Before an event stream (re)opens: any protected call signs in on 401, and a
 * token this tab holds is traded again for the cookie EventSource carries.
 */
export async function ensureSignedIn() {
  await api('/api/events/stats');
  await refreshCookie();
}
