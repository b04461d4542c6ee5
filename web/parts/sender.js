// @ts-check
// Sends upload parts for the upload worker (upload-worker.js, through part-senders.js):
// one PUT per message, its body transferred here and back with the answer, so that no
// part is copied between the two.
// It lives under /parts/ to be outside sw.js (parts/sw.js says why), and is replaced
// every few parts: Chromium keeps each request's body until this worker's garbage is
// collected, which a worker that only sends requests never hurries, so ending the
// worker is what frees them.

/**
 * @typedef {import('../messages.js').PartRequest} PartRequest
 * @typedef {import('../messages.js').PartAnswer} PartAnswer
 */

/** Statuses whose answer has no body (the Response constructor refuses one). */
const NO_BODY = new Set([101, 103, 204, 205, 304]);

self.onmessage = (/** @type {MessageEvent<PartRequest>} */ e) => {
  const { url, headers, body } = e.data;
  const port = e.ports[0];
  if (!port) return;
  const abort = new AbortController();
  port.onmessage = () => abort.abort();
  /** @param {PartAnswer} answer */
  const answer = (answer) => {
    try {
      port.postMessage(answer, [answer.body.buffer]);
      port.close();
    } catch (e) {
      // Uncaught, it reaches the upload worker as this sender's error event: the part fails.
      setTimeout(() => { throw e; });
    }
  };
  fetch(url, { method: 'PUT', headers, body, signal: abort.signal })
    .then(async (res) => answer({
      status: res.status, contentType: res.headers.get('content-type') ?? '',
      text: NO_BODY.has(res.status) ? null : await res.text(), body,
    }))
    .catch((err) => answer({ failed: err instanceof Error && err.name === 'AbortError' ? 'aborted' : 'network', body }));
};
