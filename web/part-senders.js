// @ts-check
// The upload worker's part senders (parts/sender.js): each part's PUT goes to one of
// them, its body transferred there and back, and a sender that has been given
// `perSender` parts is replaced and, once its last answer is in, ended. Ending it is
// what frees the copies of the bodies Chromium keeps for its garbage collector: the
// page's memory stays about `perSender` parts whatever the file's size (it grew by
// ~1.3 GB per GiB before). The senders also take the requests' own work off the worker
// that encrypts. Where a worker cannot start one (no nested workers, or its script
// failed to load), parts go out with this worker's own `fetch`.

/**
 * @typedef {import('./messages.js').PartRequest} PartRequest
 * @typedef {import('./messages.js').PartAnswer} PartAnswer
 * @typedef {{ worker: Worker, assigned: number, answered: boolean, waiting: Set<(answer: PartAnswer | null) => void> }} Sender
 */

/** A sender stopped before it ever answered: this worker sends its parts itself from now on. */
let unusable = typeof Worker === 'undefined';

/** The part's body went with a sender that stopped: only sealing it again brings it back. */
export class SenderLost extends Error {
  constructor() {
    super('The upload stopped in this browser before a part was sent. Resume it to send the rest.');
    this.name = 'SenderLost';
  }
}

export class PartSenders {
  /** @param {number} perSender parts one sender is given before it is replaced */
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
    if (this.current === sender) this.current = null;
    for (const w of [...sender.waiting]) w(null);
  }

  /** @returns {Sender} */
  #sender() {
    if (this.current && this.current.assigned < this.perSender) return this.current;
    const old = this.current;
    if (old && old.waiting.size === 0) this.#end(old);
    const worker = new Worker('/parts/sender.js');
    /** @type {Sender} */
    const sender = { worker, assigned: 0, answered: false, waiting: new Set() };
    // A sender that fails to load or dies answers its waiting requests with nothing.
    worker.onerror = () => {
      if (!sender.answered) unusable = true;
      this.#end(sender);
    };
    this.current = sender;
    this.live.add(sender);
    return sender;
  }

  /**
   * PUTs `init.body` (a Uint8Array) to `url`. Through a sender the body is transferred,
   * unusable until `giveBack` returns it; a network failure rejects with a TypeError
   * and an abort with an AbortError, as `fetch` does, and a sender that stops with
   * `SenderLost` (the body is gone with it). The answer keeps its status, its body and
   * its content type.
   * @param {string} url
   * @param {RequestInit} init
   * @param {(body: Uint8Array<ArrayBuffer>) => void} giveBack receives the body once answered
   * @returns {Promise<Response>}
   */
  put(url, init, giveBack) {
    if (unusable) return fetch(url, init);
    const body = /** @type {Uint8Array<ArrayBuffer>} */ (init.body);
    const signal = init.signal;
    if (signal?.aborted) return Promise.reject(new DOMException('The part was not sent.', 'AbortError'));
    const sender = this.#sender();
    sender.assigned += 1;
    return new Promise((resolve, reject) => {
      const channel = new MessageChannel();
      const onAbort = () => channel.port1.postMessage('abort');
      /** @param {PartAnswer | null} answer */
      const settle = (answer) => {
        if (!sender.waiting.delete(settle)) return;
        signal?.removeEventListener('abort', onAbort);
        channel.port1.close();
        // The last answer of a replaced sender ends it.
        if (sender !== this.current && sender.waiting.size === 0) this.#end(sender);
        if (!answer) {
          reject(new SenderLost());
          return;
        }
        sender.answered = true;
        giveBack(answer.body);
        if ('failed' in answer) {
          reject(answer.failed === 'aborted' ? new DOMException('The part was not sent.', 'AbortError') : new TypeError('Failed to fetch'));
        } else {
          resolve(new Response(answer.text, { status: answer.status, headers: { 'content-type': answer.contentType } }));
        }
      };
      sender.waiting.add(settle);
      signal?.addEventListener('abort', onAbort, { once: true });
      channel.port1.onmessage = (e) => settle(e.data);
      /** @type {PartRequest} */
      const request = { url, headers: /** @type {Record<string, string>} */ (init.headers ?? {}), body };
      try {
        sender.worker.postMessage(request, [channel.port2, body.buffer]);
      } catch (e) {
        // Not sent (a body already detached): nothing was transferred.
        sender.waiting.delete(settle);
        signal?.removeEventListener('abort', onAbort);
        channel.port1.close();
        reject(e);
      }
    });
  }

  /** Ends every sender (the upload is over); requests still out fail. */
  close() {
    for (const sender of [...this.live]) this.#end(sender);
  }
}
