// @ts-check
// The messages between the page (app.js), its upload worker (upload-worker.js), the
// upload worker's part senders (parts/sender.js) and the service worker (sw.js): their
// names and shapes, defined once, here. Senders and receivers use these names, and
// `scripts/typecheck` holds both to these shapes.

/** Page → upload worker. */
export const ToUploader = Object.freeze({ start: 'start', resume: 'resume', pause: 'pause', token: 'token' });

/** Upload worker → page. */
export const FromUploader = Object.freeze({
  created: 'created', progress: 'progress', paused: 'paused', retrying: 'retrying', done: 'done', error: 'error',
  needToken: 'need-token',
});

/** Page → service worker. Each is answered with 'ok' on the port sent along, if any. */
export const ToServiceWorker = Object.freeze({
  session: 'session', signOut: 'sign-out', allowNavigation: 'allow-navigation', archive: 'archive', link: 'link',
});

/** Service worker → page. */
export const FromServiceWorker = Object.freeze({
  needSession: 'need-session', mediaError: 'media-error', archiveProgress: 'archive-progress', needLink: 'need-link',
});

/**
 * @typedef {import('./crypto.js').Engine} Engine
 * @typedef {import('./crypto.js').FormatErrorCode} FormatErrorCode
 * @typedef {import('./api.js').ApiErrorCode} ApiErrorCode
 * @typedef {import('./api.js').RecordingKind} RecordingKind
 * @typedef {import('./api.js').RecordingView} RecordingView
 */

// ---------- page ↔ upload worker ----------

/**
 * Encrypt and upload `file` as a new recording.
 * @typedef {object} StartUpload
 * @property {typeof ToUploader.start} type
 * @property {File} file
 * @property {string} title
 * @property {RecordingKind} kind
 * @property {string} token the bearer token for the upload's requests
 * @property {string} owner who is signed in: this device keeps the upload among their interrupted ones
 * @property {Engine | null} mode forces an engine for the bulk frames (tests, benchmarks); null: the best there is
 * @property {string} [delivery] a studio's delivery this upload goes into (its staff upload as its contributor)
 */

/**
 * Go on with an interrupted upload (after a reload, a crash or a pause), given its file again.
 * @typedef {object} ResumeUpload
 * @property {typeof ToUploader.resume} type
 * @property {string} id the recording
 * @property {File} file
 * @property {string} token
 * @property {string} owner
 * @property {Engine | null} mode
 */

/**
 * Stop the running upload between bytes; it stays resumable.
 * @typedef {object} PauseUpload
 * @property {typeof ToUploader.pause} type
 */

/**
 * The session's token, renewed (sent after every renewal, and in answer to `NeedToken`);
 * null: it could not be renewed.
 * @typedef {object} TokenUpdate
 * @property {typeof ToUploader.token} type
 * @property {string | null} token
 */

/** @typedef {StartUpload | ResumeUpload | PauseUpload | TokenUpdate} ToUploaderMessage */

/**
 * The server created the recording the upload goes to.
 * @typedef {object} UploadCreated
 * @property {typeof FromUploader.created} type
 * @property {string} id
 * @property {RecordingView} recording
 * @property {string} [replaces] the interrupted upload this one was asked to resume, when the file
 *   chosen was not that upload's (a part already sent differs), or this device's record of it
 *   cannot tell: that upload is left as it was
 * @property {ReplacedBecause} [because] which of the two
 */

/**
 * Why a resume became a new recording: the file differs from the one the upload
 * started with, or this device's record cannot tell (it predates the digests a resume
 * compares, or lacks some).
 * @typedef {'changed' | 'unverifiable'} ReplacedBecause
 */

/**
 * Bytes so far, and which engine sealed how many frames of this upload.
 * @typedef {object} UploadProgress
 * @property {typeof FromUploader.progress} type
 * @property {string} id
 * @property {number} encrypted plaintext bytes encrypted
 * @property {number} uploaded plaintext bytes whose ciphertext the server stored
 * @property {number} total
 * @property {Engine} engine the engine that runs the bulk AES-GCM
 * @property {Record<Engine, number>} frames frames sealed by each engine in this upload
 */

/**
 * @typedef {object} UploadPaused
 * @property {typeof FromUploader.paused} type
 * @property {string} id
 */

/**
 * A request failed in a way worth retrying; the worker retries it.
 * @typedef {object} UploadRetrying
 * @property {typeof FromUploader.retrying} type
 * @property {string} id
 * @property {string} message
 * @property {UploadErrorCode} code
 */

/**
 * @typedef {object} UploadDone
 * @property {typeof FromUploader.done} type
 * @property {string} id
 */

/**
 * The upload stopped. The page decides on `code`; `message` is for people.
 * @typedef {object} UploadFailed
 * @property {typeof FromUploader.error} type
 * @property {string | undefined} id undefined when no recording was created
 * @property {string} message
 * @property {UploadErrorCode} code
 */

/**
 * Why an upload stopped: the server's problem code (`ApiErrorCode`), vault-wasm's
 * (`FormatErrorCode`), or the worker's own:
 * - `busy`: another upload runs in this worker;
 * - `unknown-upload`: this device has no record of the upload to resume;
 * - `other-file`: the file chosen to resume has another name, size or date;
 * - `header-mismatch`: the server's copy of the upload does not match this device's record;
 * - `file-changed`: the file changed while it was uploaded;
 * - `failed`: anything else (a bug, or the browser refused).
 * @typedef {ApiErrorCode | FormatErrorCode | 'busy' | 'unknown-upload' | 'other-file' | 'header-mismatch' | 'file-changed' | 'failed'} UploadErrorCode
 */

/**
 * The server refused the worker's token (expired): the page renews it and answers with a
 * `TokenUpdate`.
 * @typedef {object} NeedToken
 * @property {typeof FromUploader.needToken} type
 * @property {string} id
 */

/** @typedef {UploadCreated | UploadProgress | UploadPaused | UploadRetrying | UploadDone | UploadFailed | NeedToken} FromUploaderMessage */

// ---------- upload worker ↔ part sender (parts/sender.js) ----------

/**
 * One part's PUT, with a port for its answer (a message on that port aborts it).
 * @typedef {object} PartRequest
 * @property {string} url
 * @property {Record<string, string>} headers
 * @property {Uint8Array<ArrayBuffer>} body transferred, and transferred back in the answer
 */

/**
 * The server's answer to a part's PUT, or why there is none; either way the body back.
 * @typedef {{ status: number, contentType: string, text: string | null, body: Uint8Array<ArrayBuffer> }
 *   | { failed: 'network' | 'aborted', body: Uint8Array<ArrayBuffer> }} PartAnswer
 */

// ---------- page ↔ service worker ----------

/**
 * Who is signed in, for the service worker's requests (sent on sign-in and before playback).
 * @typedef {object} SessionMessage
 * @property {typeof ToServiceWorker.session} type
 * @property {string} token
 * @property {string} family
 * @property {Engine | null} mode as in `StartUpload`
 */

/**
 * @typedef {object} SignOutMessage
 * @property {typeof ToServiceWorker.signOut} type
 */

/**
 * The page is about to navigate to a /media/ URL carrying this one-time nonce.
 * @typedef {object} AllowNavigation
 * @property {typeof ToServiceWorker.allowNavigation} type
 * @property {string} nonce
 */

/**
 * The recordings the navigation to `/media/archive?nonce=<nonce>` saves as one ZIP file
 * (for browsers that cannot save into a folder); the nonce is good for one navigation.
 * @typedef {object} ArchiveMessage
 * @property {typeof ToServiceWorker.archive} type
 * @property {string} nonce
 * @property {ArchiveEntry[]} entries
 */

/**
 * @typedef {object} ArchiveEntry
 * @property {string} id the recording
 * @property {string} name its file name in the archive (the page's decrypted title)
 * @property {number} lastModified its "recorded on" date (Unix ms)
 */

/**
 * A share link was opened (share.js): serve its recordings at /media/link/<recording id>,
 * read with the view's token and decrypted with the keys the link carried.
 * @typedef {object} LinkMessage
 * @property {typeof ToServiceWorker.link} type
 * @property {string} link the link's id
 * @property {string} view the view token its opening answered
 * @property {LinkEntry[]} entries
 */

/**
 * One recording of an opened share link.
 * @typedef {object} LinkEntry
 * @property {string} id the recording
 * @property {string} family
 * @property {string} dataKey base64, opened from the link's sealed item
 * @property {number} headerLength
 * @property {number} ciphertextSize
 * @property {string} contentType
 * @property {boolean} allowDownload whether the sharer lets the viewer save copies
 */

/** @typedef {SessionMessage | SignOutMessage | AllowNavigation | ArchiveMessage | LinkMessage} ToServiceWorkerMessage */

/**
 * The worker restarted and lost an opened link's keys: the viewer page answers on the
 * port with the `LinkMessage` it sent (or null), without opening the link again.
 * @typedef {object} NeedLink
 * @property {typeof FromServiceWorker.needLink} type
 * @property {string} id the recording asked for
 */

/**
 * The service worker restarted without a session: the page answers on the port sent
 * along with a `SessionReply`.
 * @typedef {object} NeedSession
 * @property {typeof FromServiceWorker.needSession} type
 */

/**
 * @typedef {object} SessionReply
 * @property {string} token
 * @property {string} family
 * @property {Engine | null} mode
 */

/**
 * Playback of a recording failed.
 * @typedef {object} MediaError
 * @property {typeof FromServiceWorker.mediaError} type
 * @property {string} id the recording
 * @property {string} message
 * @property {PlaybackErrorCode} code
 */

/**
 * Why playback failed: `tampered` (a frame, the header or a length did not verify:
 * nothing of the recording was shown), the server's problem code, or `failed`.
 * @typedef {'tampered' | ApiErrorCode | 'failed'} PlaybackErrorCode
 */

/**
 * How far the archive of `nonce` is: `saved` of `total` recordings are in it; `done`
 * once the last byte is written (or `failed` says why it stopped).
 * @typedef {object} ArchiveProgress
 * @property {typeof FromServiceWorker.archiveProgress} type
 * @property {string} nonce
 * @property {number} saved
 * @property {number} total
 * @property {string[]} missing the names of recordings left out (damaged or refused)
 * @property {boolean} done
 * @property {string} [failed] why the archive stopped before its end
 */

/** @typedef {NeedSession | MediaError | ArchiveProgress | NeedLink} FromServiceWorkerMessage */

/** The header a service worker's failed /media/ answer carries its `PlaybackErrorCode` in. */
export const PLAYBACK_ERROR_HEADER = 'x-vault-error';

/** The header naming the engine (`Engine`) that decrypted a /media/ answer's bytes. */
export const ENGINE_HEADER = 'x-vault-engine';
