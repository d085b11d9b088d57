// One page's client: the configuration, the store, the widgets, and either the WebSocket (in the leader
// tab) or the relay to it (in the other tabs). One tab per browser holds the WebSocket (Web Locks leader
// election) and relays what it hears to the other tabs over a BroadcastChannel.

import { Bell } from "./bell.js";
import { readConfig } from "./config.js";
import { Backoff, Connection, socketUrl } from "./connection.js";
import { browserTimeZone, NotificationStore, normalizeIds, SeqTracker, VisibilityRegistry } from "./core.js";
import { apiRequest, sessionIsValid } from "./http.js";
import { ListPage } from "./list.js";
import { Alerts, Toasts } from "./toasts.js";

// Suffixed with ":<user id>" when the page says whose it is, so tabs of different sessions never mix.
const CHANNEL_NAME = "notifications";
const LOCK_NAME = "notifications-leader";
const LIST_LIMIT = 20;
const GAP_SETTLE_MS = 5000;

/**
 * Starts a widget; one whose templates are missing is left out (with the reason in the console), so
 * the rest of the client (counts, events, API) still runs.
 * @template T
 * @param {() => T} make
 * @returns {T | null}
 */
function widget(make) {
  try {
    return make();
  } catch (error) {
    console.error(error);
    return null;
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
      unseenCount: this.config.unseenCount,
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
    this.channel = null;
    this.started = false;
    this.signedOut = false;
    this.sawLeader = false;
    this.releaseLock = null;
    this.alerts = new Alerts(this);
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
    this.bell = bellRoot instanceof HTMLElement ? widget(() => new Bell(bellRoot, this)) : null;
    const pageRoot = document.querySelector("[data-notifications-page]");
    this.page = pageRoot instanceof HTMLElement ? widget(() => new ListPage(pageRoot, this)) : null;
    this.toasts = widget(() => new Toasts(this.config.toastDuration));
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
      this.setState("signed-out");
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
        this.setState(info.final ? "signed-out" : state);
        if (info.final) this.resign();
      },
      backoff: new Backoff({ base: this.config.backoffBase, cap: this.config.backoffCap }),
      checkSession: () => sessionIsValid(this.config),
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
        if (!this.isLeader && message.final) this.setState("signed-out");
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
        this.store.setUnseen(frame.unseen_count);
        this.tracker.expectReplay(frame.last_seq);
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
        this.store.setUnseen(frame.unseen_count);
        this.page?.setRead(ids, read);
        this.render();
        this.dispatch(read ? "notifications:read" : "notifications:unread", { ids, unread_count: this.store.unreadCount });
        break;
      }
      case "deleted": {
        const ids = normalizeIds(frame.ids);
        this.store.remove(ids, frame.unread_count);
        this.store.setUnseen(frame.unseen_count);
        this.page?.remove(ids);
        this.render();
        this.dispatch("notifications:deleted", { ids, unread_count: this.store.unreadCount });
        break;
      }
      case "seen": {
        const ids = normalizeIds(frame.ids);
        this.store.setSeen(ids, frame.unseen_count);
        this.store.setCount(frame.unread_count);
        this.render();
        this.dispatch("notifications:seen", { ids, unseen_count: this.store.unseenCount });
        break;
      }
      case "archived":
      case "snoozed": {
        // Out of the inbox: the bell drops them, and so does the list page's inbox view.
        const ids = normalizeIds(frame.ids);
        this.store.remove(ids, frame.unread_count);
        this.store.setUnseen(frame.unseen_count);
        this.page?.leftInbox(ids, frame.type);
        this.render();
        this.dispatch(`notifications:${frame.type}`, { ids, until: frame.until, unread_count: this.store.unreadCount });
        break;
      }
      case "unarchived": {
        const ids = normalizeIds(frame.ids);
        const back = Array.isArray(frame.notifications) ? frame.notifications : [];
        for (const n of back) this.store.insert(n);
        this.store.setCount(frame.unread_count);
        this.store.setUnseen(frame.unseen_count);
        this.page?.backInInbox(ids, back);
        this.render();
        this.dispatch("notifications:unarchived", { ids, unread_count: this.store.unreadCount });
        break;
      }
      case "snapshot":
        this.store.replace(frame.results, frame.unread_count, frame.last_seq);
        this.store.setUnseen(frame.unseen_count);
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
    this.toasts?.show(n);
    this.dispatch("notifications:received", n);
    this.alerts.showNative(n);
    this.alerts.playSound();
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

  /** What the badge counts: the unread count, or the unseen one (data-badge="unseen"). */
  get badgeCount() {
    return this.config.badge === "unseen" ? this.store.unseenCount : this.store.unreadCount;
  }

  render() {
    this.bell?.renderBadge(this.badgeCount);
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
    const data = await apiRequest(this.config, "GET", `?limit=${LIST_LIMIT}`);
    const frame = {
      type: "snapshot",
      results: data.results ?? [],
      unread_count: data.unread_count,
      unseen_count: data.unseen_count,
      last_seq: data.last_seq,
    };
    if (share) this.post({ kind: "frame", frame });
    this.handleFrame(frame);
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
      mark_seen: () => this.change(frame, "mark-seen/", { ids }, "seen", { http: true }),
      archive: () => this.change(frame, "archive/", { ids }, "archived", { http: true }),
      unarchive: () => this.change(frame, "unarchive/", { ids }, "unarchived", { http: true }),
      snooze: () => this.change(frame, "snooze/", frame, "snoozed", { http: true }),
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
    const data = await apiRequest(this.config, "POST", path, body, { keepalive: Boolean(options.keepalive) });
    const answer = {
      type: answerType,
      ids: data.ids ?? [],
      unread_count: data.unread_count,
      unseen_count: data.unseen_count,
      until: data.until,
    };
    this.post({ kind: "frame", frame: answer });
    this.handleFrame(answer);
    // The HTTP answer names them only: the inbox is fetched again to show them.
    if (answerType === "unarchived" && answer.ids.length > 0) await this.refresh(true);
  }

  /**
   * Marks notifications seen (the bell does it for what its dropdown shows).
   * @param {number | number[]} ids
   */
  markSeen(ids) {
    const list = normalizeIds(ids);
    if (list.length === 0) return Promise.resolve();
    return this.change({ type: "mark_seen", ids: list }, "mark-seen/", { ids: list }, "seen");
  }

  /**
   * Moves notifications to the archive.
   * @param {number | number[]} ids
   */
  archive(ids) {
    const list = normalizeIds(ids);
    if (list.length === 0) return Promise.resolve();
    return this.change({ type: "archive", ids: list }, "archive/", { ids: list }, "archived");
  }

  /**
   * Brings archived notifications back to the inbox.
   * @param {number | number[]} ids
   */
  unarchive(ids) {
    const list = normalizeIds(ids);
    if (list.length === 0) return Promise.resolve();
    return this.change({ type: "unarchive", ids: list }, "unarchive/", { ids: list }, "unarchived");
  }

  /**
   * Snoozes notifications until a preset ("1h", "tomorrow", "next_week", in this browser's time zone)
   * or an explicit time (a Date, or ISO 8601 text with its offset).
   * @param {number | number[]} ids
   * @param {string | Date} when
   */
  snooze(ids, when) {
    const list = normalizeIds(ids);
    if (list.length === 0) return Promise.resolve();
    const frame =
      when instanceof Date
        ? { type: "snooze", ids: list, until: when.toISOString() }
        : ["1h", "tomorrow", "next_week"].includes(when)
          ? { type: "snooze", ids: list, preset: when, tz: browserTimeZone() }
          : { type: "snooze", ids: list, until: String(when) };
    return this.change(frame, "snooze/", frame, "snoozed");
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
    const result = await this.alerts.requestPermission();
    this.bell?.updateDesktopButton();
    return result;
  }

  /** @param {string} name @param {any} detail */
  dispatch(name, detail) {
    document.dispatchEvent(new CustomEvent(name, { detail }));
  }
}

