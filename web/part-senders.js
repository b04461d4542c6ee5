// @ts-check
// The upload worker's part senders (parts/sender.js): each part's PUT goes to one of
// them, its body transferred there and back, and a sender that has sent `perSender`
// parts is replaced and, once its last answer is in, ended. Ending it is what frees the
// copies of the bodies Chromium keeps for its garbage collector: the page's memory stays
// about `perSender` parts whatever the file's size (it grew by ~1.3 GB per GiB before).
// The senders also take the requests' own work off the worker that encrypts.

/**
 * @typedef {import('./messages.js').PartRequest} PartRequest
 * @typedef {import('./messages.js').PartAnswer} PartAnswer
 * @typedef {{ worker: Worker, sent: number, waiting: Set<(answer: PartAnswer | null) => void> }} Sender
 */

export class PartSenders {
  /** @param {number} perSender parts one sender sends before it is replaced */
  constructor(perSender) {
    this.perSender = perSender;
    /** @type {Sender | null} */
    this.current = null;
    /** Every sender not ended yet (the current one, and replaced ones still waiting). @type {Set<Sender>} */
    this.live = new Set();
  }

  /** @param {Sender} sender */
  #end(sender) {
    sender.worker.terminate();
    this.live.delete(sender);
    for (const w of sender.waiting) w(null);
    if (this.current === sender) this.current = null;
  }

  /** @returns {Sender} */
  #sender() {
    if (this.current && this.current.sent < this.perSender) return this.current;
    const old = this.current;
    if (old && old.waiting.size === 0) this.#end(old);
    const worker = new Worker('/parts/sender.js', { type: 'module' });
    /** @type {Sender} */
    const sender = { worker, sent: 0, waiting: new Set() };
    // A sender that fails to load or dies answers its waiting requests with nothing.
    worker.onerror = () => this.#end(sender);
    this.current = sender;
    this.live.add(sender);
    return sender;
  }

  /**
   * PUTs `init.body` (a Uint8Array, transferred: unusable until `giveBack` returns it) to
   * `url`, as `fetch` would: a network failure rejects with a TypeError, an abort with
   * an AbortError.
   * @param {string} url
   * @param {RequestInit} init
   * @param {(body: Uint8Array<ArrayBuffer>) => void} giveBack receives the body once answered
   * @returns {Promise<Response>}
   */
  put(url, init, giveBack) {
    const body = /** @type {Uint8Array<ArrayBuffer>} */ (init.body);
    const signal = init.signal;
    if (signal?.aborted) return Promise.reject(new DOMException('The part was not sent.', 'AbortError'));
    const sender = this.#sender();
    sender.sent += 1;
    return new Promise((resolve, reject) => {
      const channel = new MessageChannel();
      const onAbort = () => channel.port1.postMessage('abort');
      signal?.addEventListener('abort', onAbort, { once: true });
      /** @param {PartAnswer | null} answer */
      const settle = (answer) => {
        sender.waiting.delete(settle);
        signal?.removeEventListener('abort', onAbort);
        channel.port1.close();
        // The last answer of a replaced sender ends it.
        if (sender !== this.current && sender.waiting.size === 0) this.#end(sender);
        if (!answer) {
          reject(new Error('The part sender stopped; the part was not kept. Resume the upload to send it again.'));
          return;
        }
        giveBack(answer.body);
        if ('failed' in answer) {
          reject(answer.failed === 'aborted' ? new DOMException('The part was not sent.', 'AbortError') : new TypeError('Failed to fetch'));
        } else {
          resolve(new Response(answer.text, { status: answer.status, headers: { 'content-type': answer.contentType } }));
        }
      };
      sender.waiting.add(settle);
      channel.port1.onmessage = (e) => settle(e.data);
      /** @type {PartRequest} */
      const request = { url, headers: /** @type {Record<string, string>} */ (init.headers ?? {}), body };
      sender.worker.postMessage(request, [channel.port2, body.buffer]);
    });
  }

  /** Ends every sender (the upload is over); requests still out fail. */
  close() {
    for (const sender of [...this.live]) this.#end(sender);
  }
}
