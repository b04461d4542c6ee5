// @ts-check
// The Vault API over fetch: bearer token, JSON, and errors with the server's code.
//
// Every refusal of the server is an RFC 9457 problem document whose `type` is
// `urn:vault:<code>`; an `ApiError` carries that code, and callers decide on it (or on
// the status), never on the text, which is for people.

/**
 * Every code of the server's problem documents (vault-server/src/api/problem.rs,
 * `ErrorCode`; tests/e2e/static.test.mjs checks the two lists agree).
 */
export const PROBLEM_CODES = /** @type {const} */ ([
  'bad-request', 'unauthenticated', 'forbidden', 'not-found', 'conflict', 'rate-limited', 'too-large', 'internal',
  'unavailable', 'timeout', 'family-erased', 'length-required', 'checksum-mismatch', 'range', 'expired',
  'invalid-ciphertext', 'upload-busy', 'unknown-host', 'sign-in-code', 'content-type', 'malformed-json',
  'invalid-body', 'invalid-query', 'invalid-path', 'method-not-allowed',
]);

/** @typedef {typeof PROBLEM_CODES[number]} ProblemCode */

/**
 * An `ApiError`'s code: the server's problem code; `network` when no answer came;
 * `unrecognised` for an answer that is not one of Vault's problem documents (a proxy's
 * error page, a code newer than this page).
 * @typedef {ProblemCode | 'network' | 'unrecognised'} ApiErrorCode
 */

/** @type {ReadonlySet<string>} */
const KNOWN = new Set(PROBLEM_CODES);

/** @param {string} code @returns {code is ProblemCode} */
const isProblemCode = (code) => KNOWN.has(code);

/** Codes of failures that may pass: the network, the server, or this upload's own other request.
 * @type {ReadonlySet<ApiErrorCode>} */
const RETRYABLE = new Set(['network', 'internal', 'unavailable', 'timeout', 'rate-limited', 'upload-busy']);

export class ApiError extends Error {
  /**
   * @param {number} status the HTTP status; 0 when no answer came
   * @param {string} message for people
   * @param {ApiErrorCode} code for the page to decide on
   */
  constructor(status, message, code) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }

  /** Worth retrying: the network or the server, not the request (or another request
   * of this upload still being received). An answer that is not Vault's (a proxy's
   * 502) is judged by its status. */
  get retryable() {
    return RETRYABLE.has(this.code)
      || (this.code === 'unrecognised' && (this.status === 408 || this.status === 429 || this.status >= 500));
  }
}

/** What the page says for a code, where it has something better than the server's detail.
 * @type {Partial<Record<ApiErrorCode, string>>} */
const MESSAGES = {
  network: 'Cannot reach the Vault server (network lost?).',
  unauthenticated: 'Your session has expired or is not valid. Please sign in again.',
  forbidden: 'You are not allowed to do that in this family.',
  'not-found': 'Not found (or not in your family).',
  'family-erased': 'This family no longer exists.',
  expired: 'This upload expired.',
  'too-large': 'That is too large.',
  'rate-limited': 'Too many requests just now; wait a moment and try again.',
  internal: 'Something went wrong on the Vault server. Please try again; if it keeps happening, tell whoever runs it.',
  unavailable: 'The Vault server cannot do that just now (a storage or key service is unavailable). Please try again in a minute.',
  timeout: 'The Vault server took too long to answer. Please try again.',
};

/** Codes whose detail (a fixed sentence of the server's) is the whole message. */
const DETAIL_SAYS_IT = new Set(['bad-request', 'conflict', 'invalid-body', 'range', 'checksum-mismatch']);

/**
 * @typedef {object} RequestOptions
 * @property {unknown} [json] a body sent as JSON
 * @property {BodyInit} [body] a body sent as it is
 * @property {Record<string, string>} [headers]
 * @property {AbortSignal} [signal]
 * @property {(url: string, init: RequestInit) => Promise<Response>} [fetcher] what sends it, if not `fetch`
 */

/** A server detail as a sentence: capitalised, with a full stop.
 * @param {string} text */
function sentence(text) {
  const t = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

/**
 * A client for one signed-in session. `token()` returns the current bearer token
 * (null for a share link's viewer, who has none); `scope()` headers every request
 * carries (a studio's uploads name their delivery).
 * @param {() => string | null} token
 * @param {() => Record<string, string>} [scope]
 */
export function client(token, scope = () => ({})) {
  /**
   * @param {string} method
   * @param {string} path
   * @param {RequestOptions} [options]
   * @returns {Promise<Response>} an answer with a 2xx status; anything else throws an `ApiError`
   */
  async function request(method, path, { json, body, headers = {}, signal, fetcher = fetch } = {}) {
    const bearer = token();
    // No token: a request anyone may make (a share link's), sent without one.
    /** @type {Record<string, string>} */
    const sent = bearer === null ? { ...scope(), ...headers } : { authorization: `Bearer ${bearer}`, ...scope(), ...headers };
    /** @type {RequestInit} */
    const init = { method, headers: sent, signal };
    if (json !== undefined) {
      init.body = JSON.stringify(json);
      sent['content-type'] = 'application/json';
    } else if (body !== undefined) {
      init.body = body;
    }
    let res;
    try {
      res = await fetcher(path, init);
    } catch (e) {
      // fetch fails with a TypeError when the network does; anything else (an abort, a
      // fetcher's own failure) is not the network's, and is not to be retried as such.
      if (!(e instanceof TypeError)) throw e;
      throw new ApiError(0, MESSAGES.network ?? '', 'network');
    }
    if (res.ok) return res;
    /** @type {ApiErrorCode} */
    let code = 'unrecognised';
    let detail = '';
    try {
      const problem = await res.json();
      const named = typeof problem?.type === 'string' ? problem.type.replace(/^urn:vault:/, '') : '';
      if (isProblemCode(named)) code = named;
      if (typeof problem?.detail === 'string') detail = problem.detail;
    } catch { /* not a problem document */ }
    if (DETAIL_SAYS_IT.has(code) && detail) throw new ApiError(res.status, sentence(detail), code);
    const base = MESSAGES[code] ?? (res.status >= 500 ? MESSAGES.internal ?? '' : 'That did not work. Please try again.');
    // A 401's detail says why a token failed, a 5xx's is generic: nothing to act on.
    const plain = code === 'unauthenticated' || res.status >= 500 || !detail;
    throw new ApiError(res.status, plain ? base : `${base.replace(/\.$/, '')}: ${detail}`, code);
  }
  return {
    request,
    /**
     * @template T
     * @param {string} method @param {string} path @param {unknown} json
     * @returns {Promise<T>} the answer's JSON, as the caller declares it
     */
    json: async (method, path, json) => (await request(method, path, { json })).json(),
    /**
     * @template T
     * @param {string} path
     * @returns {Promise<T>}
     */
    get: async (path) => (await request('GET', path)).json(),
  };
}

// What the page reads of the server's answers: the fields it uses of the wire types
// in vault-server/src/api (the OpenAPI document at /openapi.json has them all).

/** @typedef {'audio' | 'video' | 'letter' | 'photo'} RecordingKind */
/** @typedef {'member' | 'admin' | 'owner'} Role */

/**
 * @typedef {object} RecordingView
 * @property {string} id
 * @property {string} title
 * @property {RecordingKind} kind
 * @property {string} content_type
 * @property {number} plaintext_size
 * @property {'pending' | 'committed' | 'deleted'} status
 * @property {string} created_by
 * @property {number} created_at Unix milliseconds
 * @property {TrashView} [trash] set while the recording is in the trash
 * @property {string} [details] base64 of the sealed details (title, "recorded on", note): library.js opens them
 * @property {boolean} has_poster whether GET …/poster has a sealed poster
 */

/**
 * @typedef {object} TrashView
 * @property {number} trashed_at Unix milliseconds
 * @property {string} trashed_by
 * @property {number} erase_after Unix milliseconds: erased then, unless restored
 */

/**
 * @typedef {object} EdkJson
 * @property {string} provider_id
 * @property {string} provider_info base64
 * @property {string} ciphertext base64
 */

/**
 * `POST /v1/recordings`
 * @typedef {object} Created
 * @property {RecordingView} recording
 * @property {{ frame_length: number, part_frames: number, expires_at: number }} upload the part plan
 * @property {{ data_key: string, encrypted_data_keys: EdkJson[], encryption_context: Record<string, string> }} [key]
 */

/**
 * `GET /v1/recordings/{id}/upload`
 * @typedef {object} UploadStatus
 * @property {number} next_part the first part the server does not hold (after part 1, parts may arrive in any order)
 * @property {{ part_number: number, size: number, sha256: string, is_final: boolean }[]} parts
 * @property {boolean} ready
 * @property {number} part_frames
 * @property {number} frame_length
 * @property {string} [header] hex, once part 1 is stored
 */

/**
 * `POST /v1/recordings/{id}/key`
 * @typedef {object} KeyRelease
 * @property {string} data_key base64
 * @property {number | null} header_len
 * @property {number | null} ciphertext_size
 * @property {string} content_type
 */

/**
 * @template T
 * @typedef {object} RecordingPage
 * @property {T[]} items
 * @property {string | null} next_cursor
 */

/**
 * @typedef {object} FamilyView
 * @property {string} id
 * @property {string} name
 * @property {Role} role the caller's
 * @property {{ members_may_share: boolean, max_link_days: number }} sharing the family's rules for share links
 */

/**
 * @typedef {object} MemberView
 * @property {string} user_id
 * @property {Role} role
 * @property {number} added_at
 * @property {string} [display_name] the name the family knows them by (from their invitation)
 */

/**
 * @typedef {object} InvitationView
 * @property {string} id
 * @property {string} name who it is for
 * @property {Role} role
 * @property {'pending' | 'accepted' | 'revoked' | 'expired'} state
 * @property {string} created_by
 * @property {number} created_at
 * @property {number} expires_at
 * @property {string | null} accepted_by
 * @property {number | null} accepted_at
 */

/**
 * `POST /v1/family/invitations`: the link's secret, shown once.
 * @typedef {object} InvitationCreated
 * @property {InvitationView} invitation
 * @property {string} secret
 * @property {string} family_id
 */

/**
 * A family's invitation to a studio (`/v1/family/studio-invitations`).
 * @typedef {object} StudioInvitationView
 * @property {string} id
 * @property {string} name the studio, as the family named it
 * @property {'pending' | 'accepted' | 'revoked' | 'expired'} state `accepted`: a studio started its delivery with it
 * @property {string} created_by
 * @property {number} created_at
 * @property {number} expires_at
 * @property {number} [used_at]
 * @property {string} [delivery_id]
 */

/**
 * `POST /v1/family/studio-invitations`: the link's secret, shown once.
 * @typedef {object} StudioInvitationCreated
 * @property {StudioInvitationView} invitation
 * @property {string} secret
 */

/**
 * A studio's delivery as the family sees it (`GET /v1/family/deliveries`).
 * @typedef {object} FamilyDeliveryView
 * @property {string} id
 * @property {string} studio_id
 * @property {string} studio_name
 * @property {'uploading' | 'invited' | 'accepted' | 'handed-off' | 'expired' | 'erased'} state
 * @property {number} recordings
 * @property {number} created_at
 * @property {number} [contribute_until]
 * @property {number} [handed_off_at]
 * @property {boolean} into_family_vault
 */

/**
 * @typedef {object} AuditEntry
 * @property {number} at
 * @property {string} actor
 * @property {string} action
 * @property {string} target
 * @property {string} outcome
 * @property {string} ip
 * @property {string} metadata JSON text (e.g. a read's `purpose`, a role change's `from` and `to`)
 */

/**
 * @typedef {object} AuditPage
 * @property {AuditEntry[]} items
 * @property {number | null} next_before
 */

/**
 * `POST /v1/family/export`
 * @typedef {object} ExportStarted
 * @property {string} recovery_key
 * @property {string} download
 */

/**
 * A share link as its family sees it (`GET /v1/family/links`).
 * @typedef {object} ShareLinkView
 * @property {string} id
 * @property {string} name
 * @property {'active' | 'revoked' | 'expired' | 'used-up' | 'empty'} state
 * @property {string} created_by
 * @property {number} expires_at Unix milliseconds
 * @property {number} views
 * @property {number | null} max_views
 * @property {boolean} allow_download
 * @property {boolean} passphrase
 * @property {number} recordings
 */

/**
 * One opening of a share link (`GET /v1/family/links/{id}/openings`).
 * @typedef {object} ShareLinkOpening
 * @property {number} at Unix milliseconds
 * @property {string} ip
 * @property {string} user_agent
 * @property {string} outcome
 */
