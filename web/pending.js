// Uploads not yet committed, kept in IndexedDB so that a reload or a crash resumes
// them. Holds no key and no plaintext: the recording id, the file's identity, the
// message header (public: message id, wrapped keys, context) and the SHA-256 of the
// plaintext of the part that was in flight (so a resumed part is only re-encrypted
// if it is the same plaintext: frame IVs repeat, plaintexts must too).
const DB = 'vault', STORE = 'pending-uploads';

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'id' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run(mode, fn) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req?.result);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

export const pending = {
  put: (entry) => run('readwrite', (s) => s.put(entry)),
  get: (id) => run('readonly', (s) => s.get(id)),
  all: () => run('readonly', (s) => s.getAll()),
  remove: (id) => run('readwrite', (s) => s.delete(id)),
};
