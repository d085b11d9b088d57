// The changes a page asks for (read, seen, archived, snoozed, deleted): one table from a client frame's
// type to the JSON API path that makes the same change when no socket is open, and to the server frame
// that the HTTP answer stands for (the one the socket would have sent).

import { normalizeIds } from "./core.js";
import { apiRequest } from "./http.js";

/** @typedef {{path: string, answer: string, body?: (frame: any) => object | undefined}} Change */

/** @type {Record<string, Change>} body: the request's JSON, `{ids}` unless the change says otherwise */
const CHANGES = {
  mark_read: { path: "mark-read/", answer: "read" },
  mark_all_read: { path: "mark-all-read/", answer: "read", body: () => undefined },
  delete: { path: "delete/", answer: "deleted" },
  mark_seen: { path: "mark-seen/", answer: "seen" },
  archive: { path: "archive/", answer: "archived" },
  unarchive: { path: "unarchive/", answer: "unarchived" },
  // The frame as it is: the endpoint reads `until`, or `preset` with the browser's `tz`.
  snooze: { path: "snooze/", answer: "snoozed", body: (frame) => frame },
};

/** @param {any} frame @returns {boolean} whether the JSON API can make this client frame's change */
export function isChange(frame) {
  return Object.hasOwn(CHANGES, frame?.type);
}

/**
 * Makes a client frame's change over the JSON API.
 * @param {{apiUrl: string, csrfToken: string}} config
 * @param {any} frame a client frame whose type is in the table
 * @param {boolean} keepalive the request outlives the page
 * @returns {Promise<{type: string, ids: number[], unread_count: number, unseen_count: number, until?: string}>}
 *   the server frame the answer stands for
 */
export async function postChange(config, frame, keepalive) {
  const { path, answer, body = (f) => ({ ids: normalizeIds(f.ids) }) } = CHANGES[frame.type];
  const data = await apiRequest(config, "POST", path, body(frame), { keepalive });
  return {
    type: answer,
    ids: data.ids ?? [],
    unread_count: data.unread_count,
    unseen_count: data.unseen_count,
    until: data.until,
  };
}
