// django-realtime-notifications browser client: one native ES module, no dependencies, no build step.
//
//   <script type="module" src="/static/notifications/js/notifications.js"></script>
//
// It starts by itself from the first element with a `data-notifications` attribute (written by
// {% notifications_bell %}, and by the list page); see docs/client.md for the attributes, the DOM events
// and the JS API. One tab per browser holds the WebSocket (Web Locks leader election) and relays
// what it hears to the other tabs over a BroadcastChannel.

import {
  Backoff,
  badgeText,
  Connection,
  formatTime,
  NotificationStore,
  normalizeIds,
  safeHref,
  SeqTracker,
  socketUrl,
  Throttle,
  VisibilityRegistry,
} from "./core.js";

export { badgeText, safeHref, SeqTracker, Backoff, backoffDelay, formatTime } from "./core.js";

// Suffixed with ":<user id>" when the page says whose it is, so tabs of different sessions never mix.
const CHANNEL_NAME = "notifications";
const LOCK_NAME = "notifications-leader";
const LIST_LIMIT = 20;
const MAX_TOASTS = 5;
const GAP_SETTLE_MS = 5000;
// Desktop notifications and beeps in a burst (a catch-up after a long time offline) are capped.
const NATIVE_BURST = [3, 10000];
const SOUND_BURST = [1, 1000];
const LEVELS = new Set(["info", "success", "warning", "error"]);

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
    listUrl: d.listUrl || "/notifications/",
    csrfToken: d.csrfToken || readCookie("csrftoken"),
    lastSeq: intAttr(d.lastSeq, 0),
    unreadCount: intAttr(d.unreadCount, 0),
    sound: d.sound === "true",
    toastDuration: intAttr(d.toastDuration, 6000),
    userId: d.userId || "",
    backoffBase: intAttr(d.backoffBase, 1000),
    backoffCap: intAttr(d.backoffCap, 30000),
  };
}

/**
 * Creates an element with a class and optional text (always through textContent).
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** @param {string} level */
function levelOf(level) {
  return LEVELS.has(level) ? level : "info";
}

/** A fetch failure from the JSON API. */
export class NotificationsRequestError extends Error {
  /** @param {string} message @param {number} status @param {string} code */
  constructor(message, status, code) {
    super(message);
    this.name = "NotificationsRequestError";
    this.status = status;
    this.code = code;
  }
}

/** The bell: badge, dropdown list, mark read buttons, desktop-notification button. */
class Bell {
  /**
   * @param {HTMLElement} root the [data-notifications-bell] element
   * @param {NotificationsClient} client
   */
  constructor(root, client) {
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

  /** Finds the server-rendered parts, or builds the bell when the root is empty. */
  build() {
    const root = this.root;
    const find = (name) => root.querySelector(`[data-notifications-${name}]`);
    if (!find("toggle")) {
      const id = `notifications-dropdown-${Math.random().toString(36).slice(2, 8)}`;
      const form = el("form", "notifications-bell__form");
      form.method = "get";
      form.action = this.client.config.listUrl;
      const toggle = el("button", "notifications-bell__button");
      toggle.type = "submit";
      toggle.dataset.notificationsToggle = "";
      toggle.setAttribute("aria-haspopup", "true");
      toggle.setAttribute("aria-expanded", "false");
      toggle.setAttribute("aria-controls", id);
      toggle.append(el("span", "notifications-bell__icon"), el("span", "notifications-visually-hidden", "Notifications"));
      toggle.firstChild.setAttribute("aria-hidden", "true");
      const badge = el("span", "notifications-badge");
      badge.dataset.notificationsBadge = "";
      badge.hidden = true;
      toggle.append(badge);
      form.append(toggle);

      const dropdown = el("div", "notifications-dropdown");
      dropdown.id = id;
      dropdown.hidden = true;
      dropdown.tabIndex = -1;
      dropdown.dataset.notificationsDropdown = "";
      dropdown.setAttribute("role", "region");
      dropdown.setAttribute("aria-label", "Notifications");
      const header = el("div", "notifications-dropdown__header");
      const markAll = el("button", "notifications-dropdown__mark-all", "Mark all read");
      markAll.type = "button";
      markAll.dataset.notificationsMarkAll = "";
      header.append(el("h2", "notifications-dropdown__title", "Notifications"), markAll);
      const items = el("ul", "notifications-list");
      items.dataset.notificationsItems = "";
      const empty = el("p", "notifications-empty", "No notifications yet.");
      empty.dataset.notificationsEmpty = "";
      const footer = el("div", "notifications-dropdown__footer");
      const all = el("a", "notifications-dropdown__all", "See all notifications");
      all.href = this.client.config.listUrl;
      const desktop = el("button", "notifications-dropdown__desktop", "Enable desktop notifications");
      desktop.type = "button";
      desktop.hidden = true;
      desktop.dataset.notificationsEnableDesktop = "";
      footer.append(all, desktop);
      dropdown.append(header, items, empty, footer);
      root.append(form, dropdown);
    }
    this.toggle = find("toggle");
    this.badge = find("badge");
    this.dropdown = find("dropdown");
    this.items = find("items");
    this.empty = find("empty");
    this.markAll = find("mark-all");
    this.desktop = find("enable-desktop");
  }

  get isOpen() {
    return !this.dropdown.hidden;
  }

  open() {
    this.client.render(); // refreshes the relative times ("5 minutes ago")
    this.dropdown.hidden = false;
    this.toggle.setAttribute("aria-expanded", "true");
    this.root.classList.add("is-open");
    const first = this.dropdown.querySelector("a[href], button:not([hidden]):not([disabled])");
    (first || this.dropdown).focus();
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
    const button = target?.closest("[data-notifications-read]");
    if (button) {
      event.preventDefault();
      this.client.markRead([Number(button.getAttribute("data-notifications-read"))]).catch(() => {});
      return;
    }
    const link = target?.closest("a[href]");
    const item = target?.closest("[data-notification-id]");
    if (link && item && item.classList.contains("is-unread")) {
      // The page is about to unload: send over HTTP with keepalive so the request outlives it.
      this.client.markRead([Number(item.getAttribute("data-notification-id"))], { keepalive: true }).catch(() => {});
    }
  }

  /** @param {number} count */
  renderBadge(count) {
    const text = badgeText(count);
    this.badge.textContent = text;
    this.badge.hidden = text === "";
    const label = count > 0 ? `Notifications, ${text} unread` : "Notifications";
    this.toggle.setAttribute("aria-label", label);
    const hadFocus = document.activeElement === this.markAll;
    this.markAll.disabled = count === 0;
    if (hadFocus && this.markAll.disabled) this.keepFocus(null);
  }

  /** @param {object[]} notifications newest first */
  renderList(notifications) {
    const active = document.activeElement;
    const hadFocus = active instanceof Element && this.dropdown.contains(active);
    const focusedId = hadFocus ? active.closest("[data-notification-id]")?.getAttribute("data-notification-id") : null;
    this.items.replaceChildren(...notifications.map((n) => this.renderItem(n)));
    this.empty.hidden = notifications.length > 0;
    if (hadFocus) this.keepFocus(focusedId);
  }

  /**
   * After a re-render removed the focused element (a "Mark read" button), focus what took its place.
   * @param {string | null | undefined} itemId
   */
  keepFocus(itemId) {
    if (!this.isOpen || this.dropdown.contains(document.activeElement)) return;
    const item = itemId ? this.items.querySelector(`[data-notification-id="${CSS.escape(itemId)}"]`) : null;
    const target = item?.querySelector("a[href], button") ?? this.dropdown;
    if (target instanceof HTMLElement) target.focus();
  }

  /** @param {any} n */
  renderItem(n) {
    const li = el("li", `notifications-item notifications-item--${levelOf(n.level)}`);
    li.dataset.notificationId = String(n.id);
    li.dataset.seq = String(n.seq);
    if (!n.read) li.classList.add("is-unread");
    const href = safeHref(n.url);
    const main = el(href ? "a" : "div", "notifications-item__main");
    if (href) main.setAttribute("href", href);
    if (!n.read) main.append(el("span", "notifications-visually-hidden", "Unread: "));
    main.append(el("span", "notifications-item__title", n.title || n.verb || "Notification"));
    if (n.body) main.append(el("span", "notifications-item__body", n.body));
    const time = el("time", "notifications-item__time", formatTime(n.created_at));
    if (n.created_at) time.dateTime = n.created_at;
    main.append(time);
    li.append(main);
    if (!n.read) {
      const button = el("button", "notifications-item__read", "Mark read");
      button.type = "button";
      button.setAttribute("data-notifications-read", String(n.id));
      button.setAttribute("aria-label", `Mark “${n.title || "notification"}” as read`);
      li.append(button);
    }
    return li;
  }

  updateDesktopButton() {
    const supported = typeof Notification !== "undefined";
    this.desktop.hidden = !supported || Notification.permission !== "default";
  }
}

/** The full list page (/notifications/): rendered by the server, patched live here. */
class ListPage {
  /**
   * @param {HTMLElement} root the [data-notifications-page] element
   * @param {NotificationsClient} client
   */
  constructor(root, client) {
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

  /** @param {any} n */
  add(n) {
    if (!this.list || this.root.dataset.firstPage !== "true" || this.item(n.id)) return;
    const li = this.renderItem(n);
    const next = Array.from(this.list.children).find((child) => Number(child.getAttribute("data-seq")) < n.seq);
    this.list.insertBefore(li, next ?? null);
    if (this.empty) this.empty.hidden = true;
  }

  /** @param {number[]} ids @param {boolean} read */
  setRead(ids, read) {
    for (const id of ids) {
      const li = this.item(id);
      if (!li) continue;
      li.classList.toggle("is-unread", !read);
      li.querySelector(".notifications-entry__unread")?.toggleAttribute("hidden", read);
      const form = li.querySelector('[data-notifications-action="mark-read"]');
      if (form) form.hidden = read;
    }
  }

  /** @param {number[]} ids */
  remove(ids) {
    for (const id of ids) this.item(id)?.remove();
    if (this.empty && this.list && this.list.children.length === 0) this.empty.hidden = false;
  }

  /**
   * @param {string} action
   * @param {string} url
   * @param {number} id
   * @param {string} label
   */
  form(action, url, id, label) {
    const form = el("form", "notifications-entry__form");
    form.method = "post";
    form.action = url;
    form.dataset.notificationsAction = action;
    const fields = { csrfmiddlewaretoken: this.client.config.csrfToken, ids: String(id), next: location.pathname + location.search };
    for (const [name, value] of Object.entries(fields)) {
      const input = el("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.append(input);
    }
    const button = el("button", `notifications-entry__button notifications-entry__button--${action}`, label);
    button.type = "submit";
    form.append(button);
    return form;
  }

  /** Builds the same markup as templates/notifications/list.html. @param {any} n */
  renderItem(n) {
    const li = el("li", `notifications-entry notifications-entry--${levelOf(n.level)}`);
    li.dataset.notificationId = String(n.id);
    li.dataset.seq = String(n.seq);
    if (!n.read) li.classList.add("is-unread");
    const content = el("div", "notifications-entry__content");
    const unread = el("span", "notifications-entry__unread", "Unread");
    unread.hidden = Boolean(n.read);
    const href = safeHref(n.url);
    const title = el(href ? "a" : "span", "notifications-entry__title", n.title || n.verb || "Notification");
    if (href) title.setAttribute("href", href);
    content.append(unread, title);
    if (n.body) content.append(el("p", "notifications-entry__body", n.body));
    const time = el("time", "notifications-entry__time", formatTime(n.created_at));
    if (n.created_at) time.dateTime = n.created_at;
    content.append(time);
    const actions = el("div", "notifications-entry__actions");
    const markRead = this.form("mark-read", this.root.dataset.markReadUrl || "", n.id, "Mark read");
    markRead.hidden = Boolean(n.read);
    actions.append(markRead, this.form("delete", this.root.dataset.deleteUrl || "", n.id, "Delete"));
    li.append(content, actions);
    return li;
  }
}

/** Toasts for new notifications, in an aria-live region. */
class Toasts {
  /** @param {number} duration milliseconds; 0 keeps toasts until dismissed */
  constructor(duration) {
    this.duration = duration;
    let region = document.querySelector("[data-notifications-toasts]");
    if (!region) {
      region = el("div", "notifications-toasts");
      region.setAttribute("data-notifications-toasts", "");
      document.body.append(region);
    }
    region.setAttribute("aria-live", "polite");
    region.setAttribute("aria-relevant", "additions");
    this.region = region;
  }

  /** @param {any} n */
  show(n) {
    const level = levelOf(n.level);
    const toast = el("div", `notifications-toast notifications-toast--${level}`);
    toast.dataset.notificationId = String(n.id);
    const href = safeHref(n.url);
    const title = el(href ? "a" : "strong", "notifications-toast__title", n.title || n.verb || "Notification");
    if (href) title.setAttribute("href", href);
    toast.append(title);
    if (n.body) toast.append(el("p", "notifications-toast__body", n.body));
    const close = el("button", "notifications-toast__close", "×");
    close.type = "button";
    close.setAttribute("aria-label", "Dismiss");
    close.addEventListener("click", () => toast.remove());
    toast.append(close);
    this.region.append(toast);
    while (this.region.children.length > MAX_TOASTS) this.region.firstElementChild?.remove();
    if (this.duration > 0) setTimeout(() => toast.remove(), this.duration);
  }
}

/**
 * One page's client: the store, the UI, and either the WebSocket (leader tab) or the relay (other tabs).
 */
export class NotificationsClient {
  /**
   * @param {HTMLElement} root the element carrying the data-* configuration
   * @param {Partial<ReturnType<typeof readConfig>>} [overrides]
   */
  constructor(root, overrides = {}) {
    this.root = root;
    this.config = { ...readConfig(root), ...overrides };
    this.tabId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    const initial = this.readInitialItems();
    this.store = new NotificationStore({
      items: initial ?? [],
      unreadCount: this.config.unreadCount,
      countedThrough: this.config.lastSeq,
      limit: LIST_LIMIT,
    });
    this.needsSnapshot = initial === null;
    this.tracker = new SeqTracker(this.config.lastSeq);
    this.visibility = new VisibilityRegistry();
    this.isLeader = false;
    this.connection = null;
    this.state = "connecting";
    this.gapTimer = null;
    this.audio = null;
    this.channel = null;
    this.started = false;
    this.signedOut = false;
    this.sawLeader = false;
    this.releaseLock = null;
    this.nativeThrottle = new Throttle(...NATIVE_BURST);
    this.soundThrottle = new Throttle(...SOUND_BURST);
  }

  readInitialItems() {
    // {{ items|json_script:"notifications-initial" }} from the bell template.
    const script = document.getElementById("notifications-initial");
    if (!script) return null;
    try {
      const items = JSON.parse(script.textContent || "[]");
      return Array.isArray(items) ? items : null;
    } catch {
      return null;
    }
  }

  /** Wires the UI and joins the tabs; returns this. */
  start() {
    if (this.started) return this;
    this.started = true;
    const bellRoot = document.querySelector("[data-notifications-bell]");
    this.bell = bellRoot instanceof HTMLElement ? new Bell(bellRoot, this) : null;
    const pageRoot = document.querySelector("[data-notifications-page]");
    this.page = pageRoot instanceof HTMLElement ? new ListPage(pageRoot, this) : null;
    this.toasts = new Toasts(this.config.toastDuration);
    this.render();
    if (this.needsSnapshot) this.refresh(false).catch(() => {});

    this.visibility.set(this.tabId, this.isVisible());
    document.addEventListener("visibilitychange", () => this.announceVisibility());
    // A page on its way out leaves the queue for the lead: it must not take over while it unloads.
    const leaving = new AbortController();
    window.addEventListener("pagehide", () => {
      this.post({ kind: "bye", tabId: this.tabId });
      leaving.abort();
    });
    window.addEventListener("online", () => this.connection?.reconnectNow());

    const locks = navigator.locks;
    if (typeof BroadcastChannel !== "undefined" && locks && typeof locks.request === "function") {
      const scope = this.config.userId ? `:${this.config.userId}` : "";
      this.channel = new BroadcastChannel(CHANNEL_NAME + scope);
      this.channel.addEventListener("message", (event) => this.onTabMessage(event.data));
      this.post({ kind: "hello", tabId: this.tabId, visible: this.isVisible(), since: this.tracker.since });
      // The lock is held for the life of this page: when the tab closes, the next waiting tab gets it.
      locks
        .request(
          LOCK_NAME + scope,
          { signal: leaving.signal },
          () =>
            new Promise((release) => {
              this.releaseLock = release;
              this.becomeLeader();
            }),
        )
        .catch(() => {
          if (!leaving.signal.aborted) this.becomeLeader();
        });
    } else {
      // No cross-tab coordination: every tab holds its own socket.
      this.becomeLeader();
    }
    return this;
  }

  isVisible() {
    return document.visibilityState === "visible";
  }

  /** @param {object} message */
  post(message) {
    try {
      this.channel?.postMessage(message);
    } catch {
      // the channel is closed while the page unloads
    }
  }

  announceVisibility() {
    const visible = this.isVisible();
    this.visibility.set(this.tabId, visible);
    this.post({ kind: "visibility", tabId: this.tabId, visible });
  }

  becomeLeader() {
    if (this.isLeader) return;
    this.isLeader = true;
    this.root.dataset.leader = "true";
    this.visibility = new VisibilityRegistry();
    this.visibility.set(this.tabId, this.isVisible());
    this.post({ kind: "leader", tabId: this.tabId });
    if (this.signedOut) {
      // The session ended while another tab led: stay closed until the page is reloaded.
      this.setState("closed");
      this.resign();
      return;
    }
    this.connection = new Connection({
      url: () => socketUrl(location, this.config.wsPath, this.tracker.since),
      onFrame: (frame) => this.onSocketFrame(frame),
      onState: (state, info = {}) => {
        // final: closed with 4401 (signed out): no tab of this browser may reconnect.
        if (info.final) this.signedOut = true;
        this.post({ kind: "connection", state, final: Boolean(info.final) });
        this.setState(state);
        if (info.final) this.resign();
      },
      backoff: new Backoff({ base: this.config.backoffBase, cap: this.config.backoffCap }),
      checkSession: () => this.checkSession(),
    });
    // Taking over from another tab: that tab may have left because the user signed out.
    this.connection.start({ checkFirst: this.sawLeader });
  }

  /** A signed-out page gives up the lead (and the lock), so it never blocks a later session's tabs. */
  resign() {
    this.isLeader = false;
    delete this.root.dataset.leader;
    this.releaseLock?.();
    this.releaseLock = null;
  }

  /** Whether the session still signs the user in (false on 401/403 from the JSON API). */
  async checkSession() {
    const url = new URL("unread-count/", new URL(this.config.apiUrl, location.href));
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    return response.status !== 401 && response.status !== 403;
  }

  /** @param {any} message a BroadcastChannel message from another tab */
  onTabMessage(message) {
    if (!message || typeof message !== "object") return;
    if (["frame", "connection", "status"].includes(message.kind)) this.sawLeader = true;
    switch (message.kind) {
      case "frame":
        this.handleFrame(message.frame);
        break;
      case "connection":
        if (message.final) this.signedOut = true;
        // Another tab of this user is connected: the session is valid again (signed back in).
        if (message.state === "open") this.signedOut = false;
        if (!this.isLeader && !this.signedOut) this.setState(message.state);
        if (!this.isLeader && message.final) this.setState("closed");
        break;
      case "send":
        // The socket may have dropped since the other tab asked: then the change goes over HTTP.
        if (this.isLeader && !this.connection?.send(message.frame)) this.changeOverHttp(message.frame);
        break;
      case "hello":
        if (this.isLeader) {
          this.visibility.set(message.tabId, message.visible);
          this.post({ kind: "status", to: message.tabId, state: this.state, since: this.tracker.since });
        }
        break;
      case "status":
        if (message.to === this.tabId && !this.isLeader) {
          this.setState(message.state);
          // The leader has seen more than this page was rendered with: ask for what is missing.
          if (message.since > this.tracker.since) this.send({ type: "sync", since: this.tracker.since });
        }
        break;
      case "leader":
        if (message.tabId !== this.tabId) this.post({ kind: "visibility", tabId: this.tabId, visible: this.isVisible() });
        break;
      case "visibility":
        if (this.isLeader) this.visibility.set(message.tabId, message.visible);
        break;
      case "bye":
        if (this.isLeader) this.visibility.forget(message.tabId);
        break;
      default:
        break;
    }
  }

  /** @param {any} frame a frame from the server (leader only) */
  onSocketFrame(frame) {
    if (frame.type === "reset") {
      this.refresh(true).catch(() => {});
      return;
    }
    this.post({ kind: "frame", frame });
    this.handleFrame(frame);
  }

  /** @param {string} state */
  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.root.dataset.connection = state;
    this.dispatch("notifications:connection", { state });
  }

  /**
   * Sends a client frame: over this tab's socket, or through the leader.
   * @param {object} frame
   * @returns {boolean} false when no socket is open (use HTTP)
   */
  send(frame) {
    if (this.isLeader) return this.connection?.send(frame) ?? false;
    if (this.state !== "open" || !this.channel) return false;
    this.post({ kind: "send", frame });
    return true;
  }

  /**
   * Applies a server frame (from the socket, relayed by the leader, or made from an HTTP answer).
   * @param {any} frame
   */
  handleFrame(frame) {
    if (!frame || typeof frame !== "object") return;
    switch (frame.type) {
      case "welcome":
        this.store.setCount(frame.unread_count, frame.last_seq);
        this.render();
        if (this.tracker.hasGap) this.requestSync(this.tracker.retry());
        break;
      case "notification":
        this.receive(frame.notification);
        break;
      case "read":
      case "unread": {
        const ids = normalizeIds(frame.ids);
        const read = frame.type === "read";
        this.store.setRead(ids, read, frame.unread_count);
        this.page?.setRead(ids, read);
        this.render();
        this.dispatch(read ? "notifications:read" : "notifications:unread", { ids, unread_count: this.store.unreadCount });
        break;
      }
      case "deleted": {
        const ids = normalizeIds(frame.ids);
        this.store.remove(ids, frame.unread_count);
        this.page?.remove(ids);
        this.render();
        this.dispatch("notifications:deleted", { ids, unread_count: this.store.unreadCount });
        break;
      }
      case "snapshot":
        this.store.replace(frame.results, frame.unread_count, frame.last_seq);
        this.tracker.reset(frame.last_seq);
        this.render();
        break;
      case "error":
        this.dispatch("notifications:error", { code: frame.code, message: frame.message });
        break;
      default:
        break;
    }
  }

  /** @param {any} n a notification object */
  receive(n) {
    if (!n || typeof n !== "object") return;
    const { fresh, sync } = this.tracker.accept(n.seq);
    if (sync !== null) this.requestSync(sync);
    if (!fresh) return;
    this.store.add(n);
    this.page?.add(n);
    this.render();
    this.toasts.show(n);
    this.dispatch("notifications:received", n);
    this.showNative(n);
    this.playSound();
  }

  /** @param {number | null} since */
  requestSync(since) {
    if (since === null) return;
    this.send({ type: "sync", since });
    clearTimeout(this.gapTimer);
    this.gapTimer = setTimeout(() => {
      // A gap that the replay did not fill while connected is permanent (deleted before we saw it).
      if (this.tracker.hasGap && this.state === "open") this.tracker.settle();
    }, GAP_SETTLE_MS);
  }

  render() {
    this.bell?.renderBadge(this.store.unreadCount);
    this.bell?.renderList(this.store.items);
    for (const node of document.querySelectorAll("[data-notifications-count]")) {
      node.textContent = String(this.store.unreadCount);
    }
  }

  /**
   * Fetches the latest notifications over HTTP and shows them (after `reset`, or without server markup).
   * @param {boolean} share also send the snapshot to the other tabs
   */
  async refresh(share) {
    const data = await this.request("GET", `?limit=${LIST_LIMIT}`);
    const frame = { type: "snapshot", results: data.results ?? [], unread_count: data.unread_count, last_seq: data.last_seq };
    if (share) this.post({ kind: "frame", frame });
    this.handleFrame(frame);
  }

  /**
   * @param {string} method
   * @param {string} path relative to the API base
   * @param {object} [body]
   * @param {{keepalive?: boolean}} [options]
   */
  async request(method, path, body, { keepalive = false } = {}) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRFToken"] = this.config.csrfToken;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const url = new URL(path, new URL(this.config.apiUrl, location.href));
    const response = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      keepalive,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const error = data?.error ?? {};
      throw new NotificationsRequestError(error.message || response.statusText, response.status, error.code || "http_error");
    }
    return data;
  }

  /**
   * A client frame (mark_read, mark_all_read, delete) as its JSON API call, for when no socket is open.
   * @param {any} frame
   */
  changeOverHttp(frame) {
    const ids = normalizeIds(frame.ids);
    const calls = {
      mark_read: () => this.change(frame, "mark-read/", { ids }, "read", { http: true }),
      mark_all_read: () => this.change(frame, "mark-all-read/", undefined, "read", { http: true }),
      delete: () => this.change(frame, "delete/", { ids }, "deleted", { http: true }),
    };
    calls[frame.type]?.().catch(() => {});
  }

  /**
   * Sends a change over the socket if one is open, else over HTTP; an HTTP answer is applied here and
   * shared with the other tabs.
   * @param {object} frame
   * @param {string} path
   * @param {object | undefined} body
   * @param {string} answerType
   * @param {{keepalive?: boolean, http?: boolean}} options keepalive: outlive the page (implies HTTP)
   */
  async change(frame, path, body, answerType, options = {}) {
    if (!options.keepalive && !options.http && this.send(frame)) return;
    const data = await this.request("POST", path, body, { keepalive: Boolean(options.keepalive) });
    const answer = { type: answerType, ids: data.ids ?? [], unread_count: data.unread_count };
    this.post({ kind: "frame", frame: answer });
    this.handleFrame(answer);
  }

  /**
   * Marks notifications read.
   * @param {number | number[]} ids
   * @param {{keepalive?: boolean}} [options]
   */
  markRead(ids, options = {}) {
    const list = normalizeIds(ids);
    if (list.length === 0) return Promise.resolve();
    return this.change({ type: "mark_read", ids: list }, "mark-read/", { ids: list }, "read", options);
  }

  /** Marks every notification read. */
  markAllRead() {
    return this.change({ type: "mark_all_read" }, "mark-all-read/", undefined, "read");
  }

  /**
   * Deletes notifications.
   * @param {number | number[]} ids
   */
  remove(ids) {
    const list = normalizeIds(ids);
    if (list.length === 0) return Promise.resolve();
    return this.change({ type: "delete", ids: list }, "delete/", { ids: list }, "deleted");
  }

  /** Asks for permission to show desktop notifications; call it from a click. */
  async requestPermission() {
    if (typeof Notification === "undefined") return "unsupported";
    const result = await Notification.requestPermission();
    this.bell?.updateDesktopButton();
    return result;
  }

  /** A desktop notification, from the leader only, when no tab of the site is visible. @param {any} n */
  showNative(n) {
    if (!this.isLeader || n.read || typeof Notification === "undefined") return;
    if (Notification.permission !== "granted") return;
    this.visibility.set(this.tabId, this.isVisible());
    if (this.visibility.anyVisible() || !this.nativeThrottle.allow()) return;
    let native;
    try {
      native = new Notification(n.title || n.verb || "Notification", {
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
      this.markRead([n.id], { keepalive: Boolean(href) }).catch(() => {});
      if (href) location.assign(href);
    };
  }

  playSound() {
    if (!this.config.sound) return;
    // A visible tab beeps; when none is, the leader does: once per notification in the usual case.
    if (!this.isVisible() && !(this.isLeader && !this.visibility.anyVisible())) return;
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

  /** @param {string} name @param {any} detail */
  dispatch(name, detail) {
    document.dispatchEvent(new CustomEvent(name, { detail }));
  }
}

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

/** Asks for desktop-notification permission; call it from a user gesture. */
export function requestPermission() {
  return requireClient().requestPermission();
}

export const api = {
  markRead,
  markAllRead,
  remove,
  requestPermission,
  start,
  get client() {
    return client;
  },
  get unreadCount() {
    return client ? client.store.unreadCount : null;
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
