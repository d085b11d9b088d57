// What a new notification sets off besides the bell: toasts in the page, a desktop notification
// when no tab of the site is visible, and an optional beep.

import { safeHref, Throttle } from "./core.js";
import { cloneTemplate, renderNotification, requireTemplates, titleOf } from "./render.js";

const MAX_TOASTS = 5;
// Desktop notifications and beeps in a burst (a catch-up after a long time offline) are capped.
const NATIVE_BURST = [3, 10000];
const SOUND_BURST = [1, 1000];

/** Toasts for new notifications, in an aria-live region. */
export class Toasts {
  /** @param {number} duration milliseconds; 0 keeps toasts until dismissed */
  constructor(duration) {
    requireTemplates("toast");
    this.duration = duration;
    let region = document.querySelector("[data-notifications-toasts]");
    if (!region) {
      region = /** @type {HTMLElement} */ (cloneTemplate("toasts").firstElementChild);
      document.body.append(region);
    }
    region.setAttribute("aria-live", "polite");
    region.setAttribute("aria-relevant", "additions");
    this.region = region;
  }

  /** @param {any} n */
  show(n) {
    const toast = renderNotification("toast", n);
    toast.querySelector("[data-notifications-dismiss]")?.addEventListener("click", () => toast.remove());
    this.region.append(toast);
    while (this.region.children.length > MAX_TOASTS) this.region.firstElementChild?.remove();
    if (this.duration > 0) setTimeout(() => toast.remove(), this.duration);
  }
}

/** Desktop notifications and the beep: decided by the leader and the tabs' visibility. */
export class Alerts {
  /** @param {import("./client.js").NotificationsClient} client */
  constructor(client) {
    this.client = client;
    this.nativeThrottle = new Throttle(...NATIVE_BURST);
    this.soundThrottle = new Throttle(...SOUND_BURST);
    this.audio = null;
  }

  /** Asks for permission to show desktop notifications; call it from a click. */
  async requestPermission() {
    if (typeof Notification === "undefined") return "unsupported";
    return Notification.requestPermission();
  }

  /** A desktop notification, from the leader only, when no tab of the site is visible. @param {any} n */
  showNative(n) {
    const client = this.client;
    if (!client.isLeader || n.read || typeof Notification === "undefined") return;
    if (Notification.permission !== "granted") return;
    const tabs = client.tabs;
    tabs.visibility.set(tabs.id, tabs.isVisible());
    if (tabs.visibility.anyVisible() || !this.nativeThrottle.allow()) return;
    let native;
    try {
      native = new Notification(titleOf(n), {
        body: n.body || "",
        tag: `notification-${n.id}`,
        data: { id: n.id, url: n.url },
      });
    } catch {
      return;
    }
    native.onclick = (event) => {
      event.preventDefault?.();
      window.focus();
      native.close();
      const href = safeHref(n.url);
      client.markRead([n.id], { keepalive: Boolean(href) }).catch(() => {});
      if (href) location.assign(href);
    };
  }

  playSound() {
    const client = this.client;
    if (!client.config.sound) return;
    // A visible tab beeps; when none is, the leader does: once per notification in the usual case.
    if (!client.tabs.isVisible() && !(client.isLeader && !client.tabs.visibility.anyVisible())) return;
    if (!this.soundThrottle.allow()) return;
    const AudioContextClass = window.AudioContext || window.webkitAudioContext;
    if (!AudioContextClass) return;
    try {
      this.audio ??= new AudioContextClass();
      const ctx = this.audio;
      const now = ctx.currentTime;
      const oscillator = ctx.createOscillator();
      const gain = ctx.createGain();
      oscillator.type = "sine";
      oscillator.frequency.setValueAtTime(880, now);
      gain.gain.setValueAtTime(0.0001, now);
      gain.gain.exponentialRampToValueAtTime(0.2, now + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.2);
      oscillator.connect(gain).connect(ctx.destination);
      oscillator.start(now);
      oscillator.stop(now + 0.22);
    } catch {
      // audio blocked: stay silent
    }
  }
}
