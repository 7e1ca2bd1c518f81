// api.js: calls to mqgate-admin's API (/api/v1) with the pasted token.
// The token lives in sessionStorage: this tab only, gone when it closes.

const KEY = 'mqgate-token';

export function token() { return sessionStorage.getItem(KEY) || ''; }
export function setToken(t) { sessionStorage.setItem(KEY, t); }
export function forgetToken() { sessionStorage.removeItem(KEY); }

export class ApiError extends Error {
  constructor(status, cls, message, body) {
    super(message);
    this.status = status;
    this.cls = cls;
    this.body = body;
  }
}

// call(method, path, body) -> the parsed answer; throws ApiError with the
// API's error class and message.
export async function call(method, path, body) {
  const headers = {
    'Authorization': 'Bearer ' + token(),
    'X-Mqgate-Client': 'console',
  };
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch('/api/v1' + path, init);
  } catch (e) {
    throw new ApiError(0, 'network', 'mqgate-admin cannot be reached: ' + e.message);
  }
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok) {
    const cls = data && data.error ? data.error : 'http';
    const msg = data && data.message ? data.message : res.status + ' ' + res.statusText;
    throw new ApiError(res.status, cls, msg, data);
  }
  return data;
}

// query builds "?a=1&b=2" from the non-empty values of |params|.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? '?' + s : '';
}
