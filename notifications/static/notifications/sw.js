// The service worker of django-realtime-notifications' Web Push (docs/push.md). Served by the app at
// <notifications>/sw.js, so its scope is the app's path and it never replaces a site's own worker.
//
// push: shows the notification the server encrypted for this browser (the payload of
// notifications.webpush.payload). notificationclick: marks it read with the token the push carried
// (the worker cannot read the CSRF cookie), then focuses a tab already showing its URL, or sends an
// open tab of the site there, or opens a window.

const FALLBACK_TITLE = "Notification";
const OPEN_MESSAGE = "notifications.open";

/** @param {unknown} value */
function text(value) {
  return typeof value === "string" ? value : "";
}

/** The URL to open for a payload's url: a path of this site or an http(s) URL; else the app's page. */
function targetUrl(url) {
  const fallback = self.registration.scope;
  if (typeof url !== "string" || !url || url.startsWith("//") || url.includes("\\")) return fallback;
  try {
    const resolved = new URL(url, self.location.origin);
    return resolved.protocol === "https:" || resolved.protocol === "http:" ? resolved.href : fallback;
  } catch {
    return fallback;
  }
}

/** @param {PushEvent} event */
function payloadOf(event) {
  try {
    const data = event.data ? event.data.json() : null;
    return data && typeof data === "object" ? data : {};
  } catch {
    return {};
  }
}

self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("push", (event) => {
  const data = payloadOf(event);
  const options = {
    body: text(data.body),
    data: {
      id: Number.isInteger(data.id) ? data.id : null,
      url: targetUrl(data.url),
      readUrl: text(data.read_url),
      readToken: text(data.read_token),
    },
  };
  // The same tag replaces rather than stacks (a repeat, or the open tab's own desktop notification).
  if (text(data.tag)) options.tag = text(data.tag);
  if (text(data.icon)) options.icon = text(data.icon);
  // Browsers require every push to show a notification: an unreadable payload still shows one.
  event.waitUntil(self.registration.showNotification(text(data.title) || FALLBACK_TITLE, options));
});

/** @param {{id: number | null, readUrl: string, readToken: string}} data */
async function markRead(data) {
  if (!data.id || !data.readUrl || !data.readToken) return;
  try {
    await fetch(new URL(data.readUrl, self.location.origin).href, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ id: data.id, token: data.readToken }),
    });
  } catch {
    // offline: the notification stays unread in the inbox
  }
}

/** @param {WindowClient} client */
async function focus(client) {
  try {
    await client.focus();
  } catch {
    // focusing needs the click's user activation; the tab is still told where to go
  }
}

/** What a click on a shown notification does; also the test hook of the browser tests. */
async function handleClick(notification) {
  const data = notification.data || {};
  notification.close();
  const read = markRead(data);
  const url = data.url || self.registration.scope;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const sameSite = new URL(url).origin === self.location.origin;
  const showing = windows.find((client) => client.url === url);
  const ofSite = windows.find((client) => new URL(client.url).origin === self.location.origin);
  if (showing) {
    await focus(showing);
  } else if (sameSite && ofSite) {
    // push.js in the tab navigates it (WindowClient.navigate() works only on controlled tabs).
    ofSite.postMessage({ type: OPEN_MESSAGE, url });
    await focus(ofSite);
  } else {
    await self.clients.openWindow(url);
  }
  await read;
}

self.notificationsHandleClick = handleClick;

self.addEventListener("notificationclick", (event) => {
  event.waitUntil(handleClick(event.notification));
});
