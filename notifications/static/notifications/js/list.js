// The full list page (/notifications/): rendered by the server, patched live here.

import { normalizeIds } from "./core.js";
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
    const ids = normalizeIds(Array.from(form.querySelectorAll('input[name="ids"]'), (input) => input.value));
    let pending;
    if (action === "mark-read") pending = this.client.markRead(ids);
    else if (action === "mark-all-read") pending = this.client.markAllRead();
    else if (action === "delete") pending = this.client.remove(ids);
    else return;
    event.preventDefault();
    // If the live path fails, fall back to the plain form post.
    pending.catch(() => form.submit());
  }

  /** @param {number} id */
  item(id) {
    return this.list?.querySelector(`[data-notification-id="${id}"]`) ?? null;
  }

  /** @param {any} n a new notification, or a grouped one that collapsed (same id, newer seq): replaced */
  add(n) {
    if (!this.list) return;
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

  /** @param {number[]} ids */
  remove(ids) {
    for (const id of ids) this.item(id)?.remove();
    if (this.empty instanceof HTMLElement && this.list && this.list.children.length === 0) this.empty.hidden = false;
  }
}
