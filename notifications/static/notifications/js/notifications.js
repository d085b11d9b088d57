// django-realtime-notifications browser client: native ES modules, no dependencies, no build step.
//
//   {% notifications_script %}   writes <script type="module" src=".../notifications.js"> and the
//                                <template> elements the widgets clone
//
// It starts by itself from the first element with a `data-notifications` attribute (written by
// {% notifications_bell %}, and by the list page); see docs/client.md for the attributes, the DOM events
// and the JS API. The modules beside it: client.js (the store and the changes), tabs.js (the leader
// tab and the relay), frames.js (the server frames), changes.js (the changes' table), connection.js (the
// WebSocket), config.js (data-*), http.js (the JSON API), bell.js, list.js, toasts.js (the widgets),
// render.js (notifications drawn from the templates), core.js (pure logic).

import { NotificationsClient } from "./client.js";

export { NotificationsClient } from "./client.js";
export { readConfig } from "./config.js";
export { NotificationsRequestError } from "./http.js";
export { Backoff, backoffDelay } from "./connection.js";
export { badgeText, formatTime, safeHref, SeqTracker } from "./core.js";

/** @type {NotificationsClient | null} */
let client = null;

/**
 * Starts the client from a root element (the first [data-notifications] by default). Idempotent.
 * @param {HTMLElement | null} [root]
 * @param {object} [overrides] configuration that wins over the data-* attributes
 */
export function start(root = document.querySelector("[data-notifications]"), overrides = {}) {
  if (client) return client;
  if (!(root instanceof HTMLElement)) return null;
  client = new NotificationsClient(root, overrides).start();
  return client;
}

function requireClient() {
  if (!client) throw new Error("notifications: no [data-notifications] element on this page");
  return client;
}

/** Marks notifications read (over the socket, or HTTP when it is down). @param {number | number[]} ids */
export function markRead(ids) {
  return requireClient().markRead(ids);
}

/** Marks every notification read. */
export function markAllRead() {
  return requireClient().markAllRead();
}

/** Deletes notifications. @param {number | number[]} ids */
export function remove(ids) {
  return requireClient().remove(ids);
}

/** Marks notifications seen (the bell does it when its dropdown opens). @param {number | number[]} ids */
export function markSeen(ids) {
  return requireClient().markSeen(ids);
}

/** Moves notifications to the archive. @param {number | number[]} ids */
export function archive(ids) {
  return requireClient().archive(ids);
}

/** Brings archived notifications back to the inbox. @param {number | number[]} ids */
export function unarchive(ids) {
  return requireClient().unarchive(ids);
}

/**
 * Snoozes notifications: `when` is "1h", "tomorrow" or "next_week" (this browser's time zone), or a Date.
 * @param {number | number[]} ids
 * @param {string | Date} when
 */
export function snooze(ids, when) {
  return requireClient().snooze(ids, when);
}

/** Asks for desktop-notification permission; call it from a user gesture. */
export function requestPermission() {
  return requireClient().requestPermission();
}

export const api = {
  markRead,
  markAllRead,
  remove,
  markSeen,
  archive,
  unarchive,
  snooze,
  requestPermission,
  start,
  get client() {
    return client;
  },
  get unreadCount() {
    return client ? client.store.unreadCount : null;
  },
  get unseenCount() {
    return client ? client.store.unseenCount : null;
  },
  get isLeader() {
    return client ? client.isLeader : false;
  },
  get state() {
    return client ? client.state : "closed";
  },
};

if (typeof window !== "undefined" && typeof document !== "undefined") {
  window.notifications = api;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => start(), { once: true });
  else start();
}
