// @ts-check
// A signed-in person's token: what the pages read of it (never verified here: the
// server does that) and how they renew it before it expires. Identity providers'
// tokens are short (Clerk's last a minute) and an upload may take longer: a page gets
// a fresh token a quarter of its lifetime before it expires (at least 5 s, at most
// 5 min ahead), and whenever a worker's is refused.

/**
 * What the page's configuration says about renewing (`/web-config.json`).
 * @typedef {{ dev_sign_in?: boolean, refresh_url?: string, sign_in_url?: string }} WebConfig
 */

/**
 * The claims of a JWT (not verified: the server does that), or null.
 * @param {string} token
 * @returns {{ sub?: string, iss?: string, org_id?: string, exp?: number, iat?: number } | null}
 */
export function claims(token) {
  try {
    return JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    return null;
  }
}

/**
 * Milliseconds until `token` should be renewed, or null if it cannot be.
 * @param {string} token
 * @param {WebConfig} config
 */
export function renewalDelay(token, config) {
  const c = claims(token);
  if (!c?.exp || !(config.dev_sign_in || config.refresh_url)) return null;
  const now = Date.now() / 1000;
  const lifetime = c.exp - (c.iat ?? now);
  const at = c.exp - Math.max(5, Math.min(300, lifetime / 4));
  return Math.max(0, (at - now) * 1000);
}

/**
 * A fresh token for the same person and organisation, or null: a renewal never
 * switches accounts.
 * @param {string} current
 * @param {WebConfig} config
 * @returns {Promise<string | null>}
 */
export async function renewed(current, config) {
  const c = claims(current);
  if (!c) return null;
  let fresh = null;
  if (config.refresh_url) {
    const res = await fetch(config.refresh_url, { credentials: 'include' });
    if (res.ok) { const body = await res.json(); fresh = body.token ?? body.jwt ?? null; }
  } else if (config.dev_sign_in) {
    const ttl = c.exp && c.iat ? c.exp - c.iat : 3600;
    const res = await fetch('/dev/renew', { method: 'POST',
      headers: { authorization: `Bearer ${current}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ttl_secs: ttl }) });
    if (res.ok) fresh = (await res.json()).token;
  }
  const n = typeof fresh === 'string' ? claims(fresh) : null;
  if (typeof fresh !== 'string' || !n || n.sub !== c.sub || n.org_id !== c.org_id) return null;
  return fresh;
}
