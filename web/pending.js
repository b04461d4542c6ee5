// @ts-check
// Uploads not yet committed, kept in IndexedDB so that a reload or a crash resumes
// them. Holds no key and no plaintext: the recording id, the file's identity, the
// message header (public: message id, wrapped keys, context) and the SHA-256 of every
// part that may have left this device, as sealed and sent (the digest the server
// checks), recorded before its first byte left. A resumed upload re-encrypts a part
// under the same frame IVs, so it goes on only if the file's parts, sealed again, come
// out as those same bytes (upload-worker.js, `unchanged`).
const DB = 'vault', STORE = 'pending-uploads';

/**
 * @typedef {object} PendingUpload
 * @property {string} id the recording
 * @property {string} owner who started it (issuer|user|family): only they are offered it
 * @property {string} title
 * @property {import('./api.js').RecordingKind} kind
 * @property {string} name the file's name, size and date: the file to choose again
 * @property {number} size
 * @property {number} lastModified
 * @property {string} header the message header, hex
 * @property {number} frame_length the part plan the server announced
 * @property {number} part_frames
 * @property {number} parts how many parts the upload has
 * @property {string[]} sealed SHA-256 (hex) of the sealed parts 1, 2, … that may have left this device
 * @property {number} created_at Unix milliseconds
 */

/** @returns {Promise<IDBDatabase>} */
function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'id' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/**
 * @template T
 * @param {IDBTransactionMode} mode
 * @param {(store: IDBObjectStore) => IDBRequest<T>} fn
 * @returns {Promise<T>}
 */
async function run(mode, fn) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      // Strict: a record is on disk when the write completes (browsers default to
      // relaxed durability), since a part may leave as soon as its record is written.
      const tx = db.transaction(STORE, mode, { durability: mode === 'readwrite' ? 'strict' : 'default' });
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error('This device could not keep the upload’s record (is its storage full?).'));
    });
  } finally {
    db.close();
  }
}

export const pending = {
  /** @param {PendingUpload} entry */
  put: (entry) => run('readwrite', (s) => s.put(entry)).then(() => {}),
  /** @param {string} id @returns {Promise<PendingUpload | undefined>} */
  get: (id) => run('readonly', (s) => s.get(id)),
  /** @returns {Promise<PendingUpload[]>} */
  all: () => run('readonly', (s) => s.getAll()),
  /** @param {string} id */
  remove: (id) => run('readwrite', (s) => s.delete(id)).then(() => {}),
};
