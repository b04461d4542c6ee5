// @ts-check
// The family library's encrypted pieces: each recording's details (title, "recorded
// on" date, note, the file's fingerprint) and its poster (a video frame, a downsized
// photo, an audio waveform), made here in the browser and sealed as small ESDK
// messages under the family's library key. The server keeps only those messages
// (vault-server/src/domain/library.rs says why one key per family).
import { sealWhole, openWhole, unbase64 } from './crypto.js';

/** Every library message's `vault:object`. */
const OBJECT = 'library';
/** Posters are at most this wide or tall. */
const POSTER_EDGE = 480;
/** How long a poster may take before the upload goes on without one. */
const POSTER_TIMEOUT_MS = 8000;

/**
 * What the page keeps of a recording, encrypted.
 * @typedef {object} Details
 * @property {string} recording the recording's id: a message moved to another recording is ignored
 * @property {string} title
 * @property {string} recorded_on YYYY-MM-DD
 * @property {string} note
 * @property {string} [name] the uploaded file's name
 * @property {string} [fingerprint] the duplicate check (`fingerprint`), never sent in the clear
 * @property {number} [duration] how long it plays, in seconds (audio and video)
 */

/** Characters a title or note must not hide behind: controls, bidi overrides, zero-width. */
const DECEPTIVE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/;

/**
 * Sealed details are a member's word: a page shows them only if they are what the page
 * itself writes (another member's page, or a changed one, could seal anything).
 * @param {any} d
 * @returns {d is Details}
 */
function isDetails(d) {
  const text = (/** @type {unknown} */ v, /** @type {number} */ max) => typeof v === 'string' && v.length <= max && !DECEPTIVE.test(v);
  return text(d.title, 300) && d.title.trim() !== '' && typeof d.recorded_on === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(d.recorded_on)
    && text(d.note ?? '', 2000) && (d.name === undefined || text(d.name, 500))
    && (d.fingerprint === undefined || text(d.fingerprint, 200))
    && (d.duration === undefined || (typeof d.duration === 'number' && d.duration >= 0 && d.duration < 1e7));
}

/** The family's library key, for one signed-in page. */
export class Library {
  /**
   * @param {string} family
   * @param {import('./crypto.js').KeyGrant} grant
   */
  constructor(family, grant) {
    this.family = family;
    this.grant = grant;
    this.key = unbase64(grant.data_key);
  }

  /** @param {Details} details */
  sealDetails(details) {
    return sealWhole(this.grant, new TextEncoder().encode(JSON.stringify(details)));
  }

  /**
   * The details of recording `id` from the server's base64, or null if they do not
   * open under this key or name another recording.
   * @param {string} base64
   * @param {string} id
   * @returns {Promise<Details | null>}
   */
  async openDetails(base64, id) {
    try {
      /** @type {Details} */
      const d = JSON.parse(new TextDecoder().decode(await openWhole(this.key, this.family, OBJECT, unbase64(base64))));
      return d?.recording === id && isDetails(d) ? d : null;
    } catch {
      return null;
    }
  }

  /** @param {Blob} poster */
  async sealPoster(poster) {
    return sealWhole(this.grant, new Uint8Array(await poster.arrayBuffer()), 65536);
  }

  /** @param {Uint8Array} message @returns {Promise<Blob>} */
  async openPoster(message) {
    const plain = await openWhole(this.key, this.family, OBJECT, message);
    return new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (plain)], { type: 'image/jpeg' });
  }

  /** Wipes the key (sign-out). */
  forget() {
    this.key.fill(0);
  }
}

/**
 * What kind of recording a file makes.
 * @param {File} file
 * @returns {import('./api.js').RecordingKind}
 */
export function kindOf(file) {
  if (file.type.startsWith('video/')) return 'video';
  if (file.type.startsWith('audio/')) return 'audio';
  // The raster types the server keeps as they are; any other image is kept as a file.
  if (/^image\/(jpeg|png|gif|webp|avif|heic|heif|bmp|tiff)$/.test(file.type)) return 'photo';
  return 'letter';
}

/** A local date as YYYY-MM-DD. @param {number} ms */
export const isoDay = (ms) => {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
};

/**
 * A file's fingerprint for the duplicate warning: its size and the SHA-256 of its
 * first and last MiB (a whole hash of a 4 GB video would take minutes on a phone).
 * It stays in the browser and in the encrypted details.
 * @param {File} file
 */
export async function fingerprint(file) {
  const MiB = 1 << 20;
  const head = await file.slice(0, MiB).arrayBuffer();
  const tail = file.size > MiB ? await file.slice(Math.max(MiB, file.size - MiB)).arrayBuffer() : new ArrayBuffer(0);
  const both = new Uint8Array(head.byteLength + tail.byteLength);
  both.set(new Uint8Array(head));
  both.set(new Uint8Array(tail), head.byteLength);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', both));
  return `${file.size}:${Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * How long an audio or video file plays, in seconds (to a tenth); undefined when this
 * browser cannot tell. Recordings made by browsers (WebM from MediaRecorder) carry no
 * duration in their header: the element is sent to the end to learn it.
 * @param {File} file
 * @returns {Promise<number | undefined>}
 */
export async function mediaDuration(file) {
  if (!/^(audio|video)\//.test(file.type)) return undefined;
  const url = URL.createObjectURL(file);
  const media = document.createElement(file.type.startsWith('video/') ? 'video' : 'audio');
  media.preload = 'metadata';
  media.muted = true;
  try {
    /** @type {Promise<number | undefined>} */
    const learned = new Promise((resolve) => {
      media.addEventListener('error', () => resolve(undefined), { once: true });
      media.addEventListener('loadedmetadata', () => {
        if (Number.isFinite(media.duration)) return resolve(media.duration);
        media.addEventListener('durationchange', () => {
          if (Number.isFinite(media.duration)) resolve(media.duration);
        });
        media.currentTime = Number.MAX_SAFE_INTEGER;
      }, { once: true });
      media.src = url;
    });
    const late = new Promise((resolve) => { setTimeout(() => resolve(undefined), POSTER_TIMEOUT_MS); });
    const seconds = await Promise.race([learned, /** @type {Promise<undefined>} */ (late)]);
    return seconds !== undefined && seconds >= 0 && seconds < 1e7 ? Math.round(seconds * 10) / 10 : undefined;
  } finally {
    media.removeAttribute('src');
    media.load();
    URL.revokeObjectURL(url);
  }
}

/**
 * A poster for `file`: a frame of a video, a photo downsized, a waveform of the start
 * of an audio file; null for anything else or when the browser cannot read it.
 * @param {File} file
 * @returns {Promise<Blob | null>}
 */
export async function makePoster(file) {
  /** @type {Promise<Blob | null>} */
  const made = file.type.startsWith('image/') ? photoPoster(file)
    : file.type.startsWith('video/') ? videoPoster(file)
    : file.type.startsWith('audio/') ? audioPoster(file)
    : Promise.resolve(null);
  const late = new Promise((resolve) => { setTimeout(() => resolve(null), POSTER_TIMEOUT_MS); });
  return Promise.race([made.catch(() => null), /** @type {Promise<null>} */ (late)]);
}

/**
 * A canvas of at most POSTER_EDGE on its longer side for a picture of `w`×`h`.
 * @param {number} w
 * @param {number} h
 */
function canvasFor(w, h) {
  const scale = Math.min(1, POSTER_EDGE / Math.max(w, h, 1));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(w * scale));
  canvas.height = Math.max(1, Math.round(h * scale));
  const g = canvas.getContext('2d');
  if (!g) throw new Error('no 2D canvas');
  return { canvas, g };
}

/** @param {HTMLCanvasElement} canvas @returns {Promise<Blob | null>} */
const jpeg = (canvas) => new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.8));

/** @param {File} file */
async function photoPoster(file) {
  const bitmap = await createImageBitmap(file);
  const { canvas, g } = canvasFor(bitmap.width, bitmap.height);
  g.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return jpeg(canvas);
}

/** @param {File} file @returns {Promise<Blob | null>} */
async function videoPoster(file) {
  const url = URL.createObjectURL(file);
  const video = document.createElement('video');
  video.muted = true;
  video.preload = 'auto';
  video.playsInline = true;
  try {
    /** @param {string} event */
    const next = (event) => new Promise((resolve, reject) => {
      video.addEventListener(event, resolve, { once: true });
      video.addEventListener('error', () => reject(new Error('unreadable video')), { once: true });
    });
    const loaded = next('loadeddata');
    video.src = url;
    await loaded;
    // A second in (past a black first frame), or a tenth of a short clip.
    const seeked = next('seeked');
    video.currentTime = Math.min(1, (video.duration || 0) / 10);
    await seeked;
    if (!video.videoWidth) return null; // sound only (an HEVC file this browser cannot show, say)
    const { canvas, g } = canvasFor(video.videoWidth, video.videoHeight);
    g.drawImage(video, 0, 0, canvas.width, canvas.height);
    return jpeg(canvas);
  } finally {
    video.removeAttribute('src');
    video.load();
    URL.revokeObjectURL(url);
  }
}

/** @param {File} file */
async function audioPoster(file) {
  const start = await file.slice(0, 4 << 20).arrayBuffer();
  const audio = await new OfflineAudioContext(1, 1, 44100).decodeAudioData(start);
  const samples = audio.getChannelData(0);
  const { canvas, g } = canvasFor(POSTER_EDGE, POSTER_EDGE / 3);
  g.fillStyle = '#0b4f8a';
  g.fillRect(0, 0, canvas.width, canvas.height);
  g.fillStyle = '#ffffff';
  const bars = 96;
  const per = Math.max(1, Math.floor(samples.length / bars));
  const w = canvas.width / bars;
  for (let i = 0; i < bars; i += 1) {
    let peak = 0;
    for (let j = i * per; j < Math.min(samples.length, (i + 1) * per); j += 16) peak = Math.max(peak, Math.abs(samples[j]));
    const h = Math.max(2, peak * canvas.height * 0.9);
    g.fillRect(i * w + 1, (canvas.height - h) / 2, Math.max(1, w - 2), h);
  }
  return jpeg(canvas);
}
