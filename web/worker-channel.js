// @ts-check
// The pages' side of the service workers: registering sw.js so that it controls the
// page, and handing it messages (messages.js); the family page (app.js) and the share
// link viewer (share.js) both use it. And registering parts/sw.js for the pages that
// upload (app.js, studio.js).

/**
 * Registers sw.js and waits until it controls this page: /media/ requests go to it
 * only then.
 */
export async function swReady() {
  if (!('serviceWorker' in navigator)) throw new Error('This browser cannot play encrypted recordings (no service workers).');
  await navigator.serviceWorker.register('/sw.js', { type: 'module', scope: '/' });
  await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) {
    await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
  }
}

/**
 * Registers parts/sw.js, under which the upload worker's part senders run outside
 * sw.js (parts/sw.js says why). Uploads work without it, only slower and with more
 * memory, so a failure is not the page's to report.
 */
export function partsReady() {
  navigator.serviceWorker?.register('/parts/sw.js', { scope: '/parts/' }).catch(() => {});
}

/**
 * @param {import('./messages.js').ToServiceWorkerMessage} message
 * @returns {Promise<void>} once the service worker has taken it in (at once if none controls the page)
 */
export function postToServiceWorker(message) {
  const sw = navigator.serviceWorker?.controller;
  if (!sw) return Promise.resolve();
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => resolve();
    sw.postMessage(message, [ch.port2]);
  });
}
