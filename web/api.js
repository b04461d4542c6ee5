// The Vault API over fetch: bearer token, JSON, and errors people can act on.

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
  /** Worth retrying: the network or the server, not the request (or another request
   * of this upload still being received). */
  get retryable() {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500 || this.code === 'upload-busy';
  }
}

const MESSAGES = {
  401: 'Your session has expired or is not valid. Please sign in again.',
  403: 'You are not allowed to do that in this family.',
  404: 'Not found (or not in your family).',
  410: 'This family no longer exists.',
  413: 'That is too large.',
  429: 'Too many requests just now; wait a moment and try again.',
};

/** A client for one signed-in session. `token()` returns the current bearer token. */
export function client(token) {
  async function request(method, path, { json, body, headers = {}, signal } = {}) {
    const init = { method, headers: { authorization: `Bearer ${token()}`, ...headers }, signal };
    if (json !== undefined) {
      init.body = JSON.stringify(json);
      init.headers['content-type'] = 'application/json';
    } else if (body !== undefined) {
      init.body = body;
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      if (e?.name === 'AbortError') throw e;
      throw new ApiError(0, 'Cannot reach the Vault server (network lost?).', 'network');
    }
    if (res.ok) return res;
    let detail = '', code = String(res.status);
    try {
      const problem = await res.json();
      detail = problem.detail ?? '';
      code = problem.type?.replace(/^urn:vault:/, '') || code;
    } catch { /* not problem+json */ }
    const base = MESSAGES[res.status] ?? `The server answered ${res.status}.`;
    throw new ApiError(res.status, res.status === 401 || !detail ? base : `${base.replace(/\.$/, '')}: ${detail}`, code);
  }
  return {
    request,
    json: async (method, path, json) => (await request(method, path, { json })).json(),
    get: async (path) => (await request('GET', path)).json(),
  };
}
