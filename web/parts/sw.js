// @ts-check
// The service worker of /parts/: it has no fetch handler, on purpose. Workers whose
// script lies under /parts/ (sender.js) are matched to this registration, the longest
// scope, rather than to sw.js's. Chromium then sends their requests straight to the
// network: under sw.js every upload part was first handed to its fetch event, and
// that copy of each 8 MiB body stayed in the service worker until it collected its
// garbage (~700 MiB per GiB uploaded, and a third of the page's CPU).
const sw = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));
sw.addEventListener('install', () => { sw.skipWaiting(); });
sw.addEventListener('activate', (e) => e.waitUntil(sw.clients.claim()));
