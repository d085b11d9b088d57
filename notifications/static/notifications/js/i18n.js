// The client's words, through Django's JavaScript catalog (JavaScriptCatalog at
// notifications:jsi18n, loaded before this module by {% notifications_script %}). Without it (Node's
// tests, a page that writes its own <script> tag) the English source strings are used.

/** @returns {any} the catalog's functions, if the page loaded them */
function catalog() {
  return /** @type {any} */ (globalThis).django;
}

/**
 * @param {string} message
 * @returns {string}
 */
export function gettext(message) {
  return catalog()?.gettext?.(message) ?? message;
}

/**
 * @param {string} singular
 * @param {string} plural
 * @param {number} count
 * @returns {string}
 */
export function ngettext(singular, plural, count) {
  return catalog()?.ngettext?.(singular, plural, count) ?? (count === 1 ? singular : plural);
}

/**
 * Fills in `%(name)s` placeholders, as Python's `%` and the catalog's interpolate(fmt, obj, true) do.
 * @param {string} format
 * @param {Record<string, unknown>} values
 * @returns {string}
 */
export function interpolate(format, values) {
  return format.replace(/%\((\w+)\)s/g, (match, name) => (name in values ? String(values[name]) : match));
}

/** @returns {string | undefined} the page's language (<html lang>), for Intl */
export function pageLocale() {
  return (typeof document !== "undefined" && document.documentElement.lang) || undefined;
}
