// Web Push for django-realtime-notifications (docs/push.md): one native ES module, no dependencies.
//
// {% notifications_script %} loads it beside the client when the site has VAPID keys. It shows the bell's
// "Enable desktop notifications" button ([data-notifications-enable-push]) while this browser can
// subscribe but has not, and subscribes on its click, never on load: asks for permission, registers
// the service worker (<notifications>/sw.js), subscribes with the site's VAPID public key, and
// registers the subscription with the server. It also follows the worker's "open this URL" message
// when a push is clicked while a tab of the site is open.

const OPEN_MESSAGE = "notifications.open";
const STATE_EVENT = "notifications:push";

/** @param {string} name */
function readCookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

/**
 * The Web Push configuration written by {% notifications_bell %} as data-* attributes.
 * @param {Element | null} [root]
 */
export function readPushConfig(root = document.querySelector("[data-vapid-public-key]")) {
  const d = root && "dataset" in root ? /** @type {HTMLElement} */ (root).dataset : {};
  return {
    vapidPublicKey: d.vapidPublicKey || "",
    subscriptionsUrl: d.pushSubscriptionsUrl || "/notifications/api/push-subscriptions/",
    serviceWorkerUrl: d.serviceWorkerUrl || "/notifications/sw.js",
    csrfToken: d.csrfToken || readCookie("csrftoken"),
  };
}

/** Whether this browser has what Web Push needs (a secure context, service workers, PushManager). */
export function isSupported() {
  return (
    typeof window !== "undefined" &&
    window.isSecureContext &&
    "serviceWorker" in navigator &&
    "PushManager" in window &&
    typeof Notification !== "undefined"
  );
}

/** @param {string} base64url */
export function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
}

/**
 * The worker's registration once it is active: subscribing needs an active worker, and
 * navigator.serviceWorker.ready never resolves on a page outside the worker's scope.
 * @param {ReturnType<typeof readPushConfig>} config
 */
export async function registration(config = readPushConfig()) {
  const reg = await navigator.serviceWorker.register(config.serviceWorkerUrl);
  const worker = reg.installing || reg.waiting || reg.active;
  if (worker && worker.state !== "activated") {
    await new Promise((resolve, reject) => {
      worker.addEventListener("statechange", () => {
        if (worker.state === "activated") resolve(undefined);
        else if (worker.state === "redundant") reject(new Error("notifications: the service worker failed to install"));
      });
    });
  }
  return reg;
}

/** @param {ReturnType<typeof readPushConfig>} config @param {string} method @param {object} body */
async function send(config, method, body) {
  const response = await fetch(config.subscriptionsUrl, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrfToken },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try {
      message = (await response.json()).error.message || message;
    } catch {
      // not JSON
    }
    throw new Error(`notifications: the subscription was refused: ${message}`);
  }
}

/**
 * "unsupported", "unconfigured" (no VAPID key), "denied", "subscribed" or "available".
 * @param {ReturnType<typeof readPushConfig>} [config]
 */
export async function pushState(config = readPushConfig()) {
  if (!isSupported()) return "unsupported";
  if (!config.vapidPublicKey) return "unconfigured";
  if (Notification.permission === "denied") return "denied";
  const existing = await navigator.serviceWorker.getRegistration(config.serviceWorkerUrl);
  const subscription = existing ? await existing.pushManager.getSubscription() : null;
  return subscription && Notification.permission === "granted" ? "subscribed" : "available";
}

/**
 * Asks for permission, subscribes this browser and registers it; call it from a click.
 * Resolves to the new state ("subscribed", "denied" ...); rejects when the server refuses.
 * @param {ReturnType<typeof readPushConfig>} [config]
 */
export async function enablePush(config = readPushConfig()) {
  const state = await pushState(config);
  if (state === "unsupported" || state === "unconfigured" || state === "denied") return state;
  const permission = await Notification.requestPermission();
  if (permission !== "granted") return permission === "denied" ? "denied" : "available";
  const reg = await registration(config);
  const existing = await reg.pushManager.getSubscription();
  const subscription =
    existing ||
    (await reg.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(config.vapidPublicKey),
    }));
  await send(config, "POST", subscription.toJSON());
  return "subscribed";
}

/**
 * Unsubscribes this browser and tells the server.
 * @param {ReturnType<typeof readPushConfig>} [config]
 */
export async function disablePush(config = readPushConfig()) {
  if (!isSupported()) return "unsupported";
  const existing = await navigator.serviceWorker.getRegistration(config.serviceWorkerUrl);
  const subscription = existing ? await existing.pushManager.getSubscription() : null;
  if (subscription) {
    await send(config, "DELETE", { endpoint: subscription.endpoint });
    await subscription.unsubscribe();
  }
  return pushState(config);
}

/** @param {string} state */
function announce(state) {
  document.dispatchEvent(new CustomEvent(STATE_EVENT, { detail: { state } }));
}

/** Wires the bell's button and the worker's messages; called once when the module loads. */
export async function startPush() {
  const config = readPushConfig();
  const button = document.querySelector("[data-notifications-enable-push]");
  if (isSupported()) {
    navigator.serviceWorker.addEventListener("message", (event) => {
      const data = event.data || {};
      if (data.type !== OPEN_MESSAGE || typeof data.url !== "string") return;
      const url = new URL(data.url, location.href);
      if (url.origin === location.origin) location.assign(url.href);
    });
    navigator.serviceWorker.startMessages();
  }
  const state = await pushState(config).catch(() => "unsupported");
  announce(state);
  if (!(button instanceof HTMLButtonElement) || state === "unsupported" || state === "unconfigured") return;
  button.hidden = state !== "available";
  button.addEventListener("click", () => {
    enablePush(config)
      .then((result) => {
        button.hidden = result !== "available";
        announce(result);
      })
      .catch((error) => {
        console.error(error);
        announce("error");
      });
  });
}

if (typeof window !== "undefined" && typeof document !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => startPush(), { once: true });
  else startPush();
}
