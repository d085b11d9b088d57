// The bell: badge, dropdown list, its items' buttons (mark read, archive, snooze) and the
// desktop-notifications button.

import { badgeText } from "./core.js";
import { gettext, interpolate, ngettext } from "./i18n.js";
import { cloneTemplate, renderNotification, requireTemplates } from "./render.js";

/**
 * Which item takes focus once the list is drawn again: the one that had it, else (it left the list:
 * archived, snoozed, deleted) the next one still there, else the one before it; null for an empty list.
 * @param {string[]} before the items' ids before, in order
 * @param {string[]} after the items' ids now
 * @param {string} id the item that had focus
 * @returns {string | null}
 */
export function focusAfter(before, after, id) {
  if (after.includes(id)) return id;
  const at = before.indexOf(id);
  const next = before.slice(at + 1).find((other) => after.includes(other));
  const previous = before.slice(0, Math.max(at, 0)).findLast((other) => after.includes(other));
  return next ?? previous ?? after[0] ?? null;
}

// What in an item can have focus: its link, its buttons, the Snooze disclosure's summary.
const CONTROLS = "a, button, summary";

export class Bell {
  /**
   * @param {HTMLElement} root the [data-notifications-bell] element
   * @param {import("./client.js").NotificationsClient} client
   */
  constructor(root, client) {
    const empty = !root.querySelector("[data-notifications-toggle]");
    requireTemplates("item", ...(empty ? ["bell"] : []));
    this.root = root;
    this.client = client;
    this.build();
    this.toggle.addEventListener("click", (event) => {
      event.preventDefault();
      if (this.isOpen) this.close(true);
      else this.open();
    });
    this.markAll.addEventListener("click", () => {
      client.markAllRead().catch(() => {});
    });
    this.desktop.addEventListener("click", () => {
      client.requestPermission().catch(() => {});
    });
    this.items.addEventListener("click", (event) => this.onItemClick(event));
    this.dropdown.addEventListener("keydown", (event) => this.onKeydown(event));
    this.toggle.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" && !this.isOpen) {
        event.preventDefault();
        this.open();
      }
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.isOpen) {
        event.preventDefault();
        this.close(true);
      }
    });
    document.addEventListener("click", (event) => {
      if (this.isOpen && event.target instanceof Node && !root.contains(event.target)) this.close(false);
    });
    this.updateDesktopButton();
  }

  /** Finds the server-rendered parts; an empty root gets a copy of the "bell" template. */
  build() {
    const root = this.root;
    /** @param {string} name */
    const find = (name) => /** @type {HTMLElement} */ (root.querySelector(`[data-notifications-${name}]`));
    if (!find("toggle")) root.append(cloneTemplate("bell"));
    this.toggle = find("toggle");
    this.badge = find("badge");
    this.dropdown = find("dropdown");
    this.items = find("items");
    this.empty = find("empty");
    this.markAll = find("mark-all");
    this.desktop = find("enable-desktop");
    if (document.getElementById(this.dropdown.id) !== this.dropdown) {
      // A second bell on the page: ids must stay unique for aria-controls.
      this.dropdown.id = `notifications-dropdown-${Math.random().toString(36).slice(2, 8)}`;
      this.toggle.setAttribute("aria-controls", this.dropdown.id);
    }
  }

  get isOpen() {
    return !this.dropdown.hidden;
  }

  open() {
    this.client.render(); // refreshes the relative times ("5 minutes ago")
    this.dropdown.hidden = false;
    this.toggle.setAttribute("aria-expanded", "true");
    this.root.classList.add("is-open");
    // The newest notification, not "Mark all read" (one Enter away from marking everything read);
    // with none, the dropdown itself, whose label and "No notifications yet." are read out.
    if (!this.focusItem(0)) this.dropdown.focus();
    // What the dropdown shows is seen now.
    this.client.markSeen(this.client.store.unseenIds()).catch(() => {});
  }

  /** The element of each item that takes focus: its link (an <a> without href when it has no url). */
  itemTargets() {
    return /** @type {HTMLElement[]} */ ([...this.items.querySelectorAll(":scope > li [data-notifications-link]")]);
  }

  /**
   * Focuses the item at `index` (negative: from the end); false if there is none.
   * @param {number} index
   */
  focusItem(index) {
    const targets = this.itemTargets();
    const target = targets.at(index);
    if (!target) return false;
    // An item without a url has no href, so no focus of its own: focusable by script, not by Tab.
    if (!target.hasAttribute("href")) target.tabIndex = -1;
    target.focus();
    return true;
  }

  /**
   * Up and Down move through the items, Home and End go to the first and the last; Tab is left alone.
   * @param {KeyboardEvent} event
   */
  onKeydown(event) {
    if (!["ArrowDown", "ArrowUp", "Home", "End"].includes(event.key)) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const targets = this.itemTargets();
    if (targets.length === 0) return;
    event.preventDefault();
    const active = document.activeElement;
    const current = targets.findIndex((target) => target === active || target.closest("li")?.contains(active));
    let next = 0;
    if (event.key === "End") next = targets.length - 1;
    else if (event.key === "ArrowDown") next = current < 0 ? 0 : Math.min(current + 1, targets.length - 1);
    else if (event.key === "ArrowUp") next = current < 0 ? targets.length - 1 : Math.max(current - 1, 0);
    this.focusItem(next);
  }

  /** @param {boolean} returnFocus */
  close(returnFocus) {
    this.dropdown.hidden = true;
    this.toggle.setAttribute("aria-expanded", "false");
    this.root.classList.remove("is-open");
    if (returnFocus) this.toggle.focus();
  }

  /** @param {MouseEvent} event */
  onItemClick(event) {
    const target = event.target instanceof Element ? event.target : null;
    const item = target?.closest("[data-notification-id]");
    const id = Number(item?.getAttribute("data-notification-id"));
    if (!item) return;
    if (target?.closest("[data-notifications-read]")) {
      event.preventDefault();
      this.client.markRead([id]).catch(() => {});
      return;
    }
    // Archive and the snooze presets: the list page's actions, named the same way, on this one item.
    const button = target?.closest("button");
    const action = button?.closest("[data-notifications-action]");
    if (button && action instanceof HTMLElement) {
      this.client.act(action.dataset.notificationsAction, [id], button.value)?.catch(() => {});
      return;
    }
    if (target?.closest("a[href]") && item.classList.contains("is-unread")) {
      // The page is about to unload: send over HTTP with keepalive so the request outlives it.
      this.client.markRead([id], { keepalive: true }).catch(() => {});
    }
  }

  /** @param {number} count */
  renderBadge(count) {
    const text = badgeText(count);
    this.badge.textContent = text;
    this.badge.hidden = text === "";
    // The msgids of bell_content.html's aria-label: one translation for both.
    const unseen = this.client.config.badge === "unseen";
    const label =
      count > 0
        ? unseen
          ? interpolate(ngettext("Notifications, %(badge)s new", "Notifications, %(badge)s new", count), { badge: text })
          : interpolate(ngettext("Notifications, %(badge)s unread", "Notifications, %(badge)s unread", count), {
              badge: text,
            })
        : gettext("Notifications");
    this.toggle.setAttribute("aria-label", label);
    const hadFocus = document.activeElement === this.markAll;
    this.markAll.disabled = this.client.store.unreadCount === 0;
    if (hadFocus && this.markAll.disabled) this.keepFocus(null);
  }

  /** @returns {string[]} the ids of the items shown, in order */
  itemIds() {
    return Array.from(this.items.children, (li) => li.getAttribute("data-notification-id") ?? "");
  }

  /** @param {object[]} notifications newest first */
  renderList(notifications) {
    const active = document.activeElement;
    const hadFocus = active instanceof Element && this.dropdown.contains(active);
    const focused = hadFocus ? active.closest("[data-notification-id]") : null;
    const focusedId = focused?.getAttribute("data-notification-id");
    // Which of its item's links and buttons had focus: the same one of the new copy takes it back.
    const controls = focused ? Array.from(focused.querySelectorAll(CONTROLS)) : [];
    const control = controls.indexOf(/** @type {Element} */ (active));
    const before = this.itemIds();
    // The items whose Snooze presets are open stay open in their new copies.
    const open = new Set(Array.from(this.items.querySelectorAll("details[open]"), (details) => details.closest("li")?.getAttribute("data-notification-id")));
    this.items.replaceChildren(...notifications.map((n) => renderNotification("item", n)));
    for (const li of this.items.children) {
      if (open.has(li.getAttribute("data-notification-id"))) li.querySelector("details")?.setAttribute("open", "");
    }
    this.empty.hidden = notifications.length > 0;
    if (!hadFocus) return;
    const next = focusedId ? focusAfter(before, this.itemIds(), focusedId) : null;
    this.keepFocus(next, next === focusedId ? control : -1);
  }

  /**
   * After a re-render removed the focused element, focus what took its place: the same button of the
   * same item, else that item's link (its "Mark read" is gone once read), else the dropdown.
   * @param {string | null} itemId
   * @param {number} [control] the index of the control among its item's CONTROLS
   */
  keepFocus(itemId, control = -1) {
    if (!this.isOpen || this.dropdown.contains(document.activeElement)) return;
    const item = itemId ? this.items.querySelector(`:scope > [data-notification-id="${CSS.escape(itemId)}"]`) : null;
    const same = item?.querySelectorAll(CONTROLS)[control];
    if (same instanceof HTMLElement && same.tagName !== "A" && !same.closest("[hidden]")) {
      same.focus();
      return;
    }
    const index = item ? this.itemTargets().findIndex((target) => item.contains(target)) : -1;
    if (index < 0 || !this.focusItem(index)) this.dropdown.focus();
  }

  updateDesktopButton() {
    const supported = typeof Notification !== "undefined";
    this.desktop.hidden = !supported || Notification.permission !== "default";
  }
}
