// The full list page (/notifications/): rendered by the server, patched live here.

import { browserTimeZone, normalizeIds } from "./core.js";
import { renderNotification, requireTemplates, setReadState } from "./render.js";

export class ListPage {
  /**
   * @param {HTMLElement} root the [data-notifications-page] element
   * @param {import("./client.js").NotificationsClient} client
   */
  constructor(root, client) {
    requireTemplates("entry");
    this.root = root;
    this.client = client;
    this.list = root.querySelector("[data-notifications-page-items]");
    this.empty = root.querySelector("[data-notifications-page-empty]");
    root.addEventListener("submit", (event) => this.onSubmit(event));
  }

  /** @param {SubmitEvent} event */
  onSubmit(event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    const action = form.dataset.notificationsAction;
    // Snooze presets are in the browser's time zone, the plain form post's included.
    for (const input of form.querySelectorAll("input[data-notifications-tz]")) {
      if (input instanceof HTMLInputElement) input.value = browserTimeZone();
    }
    const ids = normalizeIds(Array.from(form.querySelectorAll('input[name="ids"]'), (input) => input.value));
    const preset = event.submitter instanceof HTMLButtonElement ? event.submitter.value : "";
    let pending = this.client.act(action, ids, preset);
    if (!pending) return;
    if (action === "mark-seen") pending = pending.then(() => { form.hidden = true; });
    event.preventDefault();
    // If the live path fails, fall back to the plain form post.
    pending.catch(() => form.submit());
  }

  /** @param {number} id */
  item(id) {
    return this.list?.querySelector(`[data-notification-id="${id}"]`) ?? null;
  }

  /** "inbox", "archived" or "snoozed": which list this page shows. */
  get view() {
    return this.root.dataset.view || "inbox";
  }

  /**
   * A new notification, a grouped one that collapsed or a snoozed one that woke (same id, newer seq):
   * the inbox shows it at its place, replacing the item with its id; a woken one leaves the snoozed view.
   * @param {any} n
   */
  add(n) {
    if (!this.list) return;
    if (this.view === "snoozed") this.remove([n.id]);
    if (this.view !== "inbox") return;
    const current = this.item(n.id);
    if (current && Number(current.getAttribute("data-seq")) >= n.seq) return;
    current?.remove();
    // Older pages show what was there when they loaded; the newest page takes what arrives.
    if (this.root.dataset.firstPage !== "true") return;
    const li = renderNotification("entry", n);
    const next = Array.from(this.list.children).find((child) => Number(child.getAttribute("data-seq")) < n.seq);
    this.list.insertBefore(li, next ?? null);
    if (this.empty instanceof HTMLElement) this.empty.hidden = true;
  }

  /** @param {number[]} ids @param {boolean} read */
  setRead(ids, read) {
    for (const id of ids) {
      const li = this.item(id);
      if (li) setReadState(li, read);
    }
  }

  /**
   * Archived or snoozed: gone from the inbox (and from the archive when snoozed).
   * @param {number[]} ids
   * @param {string} kind "archived" or "snoozed"
   */
  leftInbox(ids, kind) {
    if (this.view === "inbox" || (this.view === "archived" && kind === "snoozed")) this.remove(ids);
  }

  /**
   * Unarchived: back in the inbox, gone from the archive.
   * @param {number[]} ids
   * @param {any[]} notifications their objects, when the server sent them
   */
  backInInbox(ids, notifications) {
    if (this.view === "archived") this.remove(ids);
    else for (const n of notifications) this.add(n);
  }

  /** @param {number[]} ids */
  remove(ids) {
    for (const id of ids) this.item(id)?.remove();
    if (this.empty instanceof HTMLElement && this.list && this.list.children.length === 0) this.empty.hidden = false;
  }
}
