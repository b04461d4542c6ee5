// @ts-check
// What every page does with its document: find its own elements, make new ones, and
// write sizes and times the way people read them.

/**
 * The element `sel` names in the page's own markup (it is there: a missing one is a
 * bug of the page, said at once).
 * @param {string} sel
 * @returns {HTMLElement}
 */
export function $(sel) {
  const found = document.querySelector(sel);
  if (!(found instanceof HTMLElement)) throw new Error(`The page has no ${sel}.`);
  return found;
}

/**
 * An element with attributes (`on…`: listeners; true: present; false, null,
 * undefined: absent) and children.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string | number | boolean | null | undefined | ((e: Event) => void)>} [attrs]
 * @param {...(Node | string | null | undefined)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : String(v));
  }
  e.append(.../** @type {(Node | string)[]} */ (children.filter((c) => c !== null && c !== undefined)));
  return e;
}

/** @param {number} n */
export const fmtSize = (n) => n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB`
  : n < 1 << 30 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 2 ** 30).toFixed(2)} GiB`;

/** A day and a time to the minute. @param {number} ms */
export const fmtDay = (ms) => new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
