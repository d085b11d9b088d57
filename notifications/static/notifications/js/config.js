// The client's configuration: the data-* attributes that notifications/config.html writes (from
// client_config() in the template tags) on the element marked data-notifications.

/** @param {string | undefined} value @param {number} fallback */
function intAttr(value, fallback) {
  const n = Number.parseInt(value ?? "", 10);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

/** @param {string} name */
function readCookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

/**
 * The configuration written as data-* attributes on the root element.
 * @param {HTMLElement} root
 */
export function readConfig(root) {
  const d = root.dataset;
  return {
    wsPath: d.wsPath || "/ws/notifications/",
    apiUrl: d.apiUrl || "/notifications/api/",
    csrfToken: d.csrfToken || readCookie("csrftoken"),
    lastSeq: intAttr(d.lastSeq, 0),
    unreadCount: intAttr(d.unreadCount, 0),
    unseenCount: intAttr(d.unseenCount, 0),
    // What the badge counts: "unread" (the default) or "unseen".
    badge: d.badge === "unseen" ? "unseen" : "unread",
    sound: d.sound === "true",
    toastDuration: intAttr(d.toastDuration, 6000),
    userId: d.userId || "",
    backoffBase: intAttr(d.backoffBase, 1000),
    backoffCap: intAttr(d.backoffCap, 30000),
  };
}
