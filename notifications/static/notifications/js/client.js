// One page's client: the configuration, the store, the widgets, the changes the page asks for, and the
// WebSocket when this tab leads. Beside it: which tab leads and the relay between tabs (tabs.js), what
// each server frame does (frames.js), and the table of changes with their HTTP fallback (changes.js).

import { Bell } from "./bell.js";
import { isChange, postChange } from "./changes.js";
import { readConfig } from "./config.js";
import { Backoff, Connection, socketUrl } from "./connection.js";
import { browserTimeZone, NotificationStore, normalizeIds, SeqTracker } from "./core.js";
import { applyFrame } from "./frames.js";
import { apiRequest, sessionIsValid } from "./http.js";
import { ListPage } from "./list.js";
import { Tabs } from "./tabs.js";
import { Alerts, Toasts } from "./toasts.js";

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
 * What each `data-notifications-action` of the page's controls asks for (the list page's forms, the
 * bell's items' buttons): one of the client's changes.
 * @type {Record<string, (client: NotificationsClient, ids: number[], preset: string) => Promise<void>>}
 */
const ACTIONS = {
  "mark-read": (client, ids) => client.markRead(ids),
  "mark-seen": (client, ids) => client.markSeen(ids),
  "mark-all-read": (client) => client.markAllRead(),
  delete: (client, ids) => client.remove(ids),
  archive: (client, ids) => client.archive(ids),
  unarchive: (client, ids) => client.unarchive(ids),
  snooze: (client, ids, preset) => client.snooze(ids, preset),
};

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
    this.tabs = new Tabs(this);
    this.connection = null;
    this.state = "connecting";
    this.gapTimer = null;
    this.started = false;
    this.signedOut = false;
    this.alerts = new Alerts(this);
  }

  /** Whether this tab holds the WebSocket for the browser's tabs of this user. */
  get isLeader() {
    return this.tabs.isLeader;
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

    window.addEventListener("online", () => this.connection?.reconnectNow());
    this.tabs.join();
    return this;
  }

  /**
   * Opens the WebSocket, now that this tab leads (tabs.js), unless the user signed out.
   * @param {{checkFirst: boolean}} options checkFirst: ask whether the session is still valid first
   */
  connect({ checkFirst }) {
    if (this.signedOut) {
      // The session ended while another tab led: stay closed until the page is reloaded.
      this.setState("signed-out");
      this.tabs.resign();
      return;
    }
    this.connection = new Connection({
      url: () => socketUrl(location, this.config.wsPath, this.tracker.since),
      onFrame: (frame) => this.onSocketFrame(frame),
      onState: (state, info = {}) => {
        // final: closed with 4401 (signed out): no tab of this browser may reconnect.
        if (info.final) this.signedOut = true;
        this.tabs.post({ kind: "connection", state, final: Boolean(info.final) });
        this.setState(info.final ? "signed-out" : state);
        if (info.final) this.tabs.resign();
      },
      backoff: new Backoff({ base: this.config.backoffBase, cap: this.config.backoffCap }),
      checkSession: () => sessionIsValid(this.config),
    });
    this.connection.start({ checkFirst });
  }

  /** @param {any} frame a frame from the server (leader only) */
  onSocketFrame(frame) {
    if (frame.type === "reset") {
      this.refresh(true).catch(() => {});
      return;
    }
    this.tabs.share(frame);
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
    return this.state === "open" && this.tabs.relay(frame);
  }

  /** Applies a server frame (frames.js). @param {any} frame */
  handleFrame(frame) {
    applyFrame(this, frame);
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
    if (share) this.tabs.share(frame);
    this.handleFrame(frame);
  }

  /**
   * A client frame of another tab as its JSON API call, for when the socket it was meant for is gone.
   * @param {any} frame
   */
  changeOverHttp(frame) {
    if (isChange(frame)) this.change(frame, { http: true }).catch(() => {});
  }

  /**
   * Sends a change over the socket if one is open, else over HTTP; an HTTP answer is applied here and
   * shared with the other tabs.
   * @param {{type: string}} frame a client frame of changes.js's table
   * @param {{keepalive?: boolean, http?: boolean}} options keepalive: outlive the page (implies HTTP)
   */
  async change(frame, options = {}) {
    if (!options.keepalive && !options.http && this.send(frame)) return;
    const answer = await postChange(this.config, frame, Boolean(options.keepalive));
    this.tabs.share(answer);
    this.handleFrame(answer);
    // The HTTP answer names them only: the inbox is fetched again to show them.
    if (answer.type === "unarchived" && answer.ids.length > 0) await this.refresh(true);
  }

  /**
   * Changes the notifications a frame names; nothing to do when it names none.
   * @param {{type: string, ids: number | number[]}} frame
   * @param {{keepalive?: boolean}} [options]
   */
  changeSome(frame, options = {}) {
    const ids = normalizeIds(frame.ids);
    if (ids.length === 0) return Promise.resolve();
    return this.change({ ...frame, ids }, options);
  }

  /**
   * Marks notifications seen (the bell does it for what its dropdown shows).
   * @param {number | number[]} ids
   */
  markSeen(ids) {
    return this.changeSome({ type: "mark_seen", ids });
  }

  /**
   * Moves notifications to the archive.
   * @param {number | number[]} ids
   */
  archive(ids) {
    return this.changeSome({ type: "archive", ids });
  }

  /**
   * Brings archived notifications back to the inbox.
   * @param {number | number[]} ids
   */
  unarchive(ids) {
    return this.changeSome({ type: "unarchive", ids });
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
    return this.change(frame);
  }

  /**
   * Makes the change a control's `data-notifications-action` names.
   * @param {string | undefined} action
   * @param {number[]} ids
   * @param {string} [preset] for "snooze": the value of the button pressed
   * @returns {Promise<void> | null} null for no action the client knows
   */
  act(action, ids, preset = "") {
    return action && Object.hasOwn(ACTIONS, action) ? ACTIONS[action](this, ids, preset) : null;
  }

  /**
   * Marks notifications read.
   * @param {number | number[]} ids
   * @param {{keepalive?: boolean}} [options]
   */
  markRead(ids, options = {}) {
    return this.changeSome({ type: "mark_read", ids }, options);
  }

  /** Marks every notification read. */
  markAllRead() {
    return this.change({ type: "mark_all_read" });
  }

  /**
   * Deletes notifications.
   * @param {number | number[]} ids
   */
  remove(ids) {
    return this.changeSome({ type: "delete", ids });
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

