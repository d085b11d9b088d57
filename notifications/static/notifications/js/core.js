// The client's pure logic: no DOM, no globals, so Node's test runner can exercise all of it.
// client.js wires these pieces to the page, tabs.js to the other tabs; connection.js holds the WebSocket.

/** The largest count a badge shows before it reads "99+". */
export const BADGE_CAP = 99;

/**
 * The text of the bell badge: "" for 0 (the badge is hidden), the count, or "99+" past the cap.
 * @param {number} count
 * @param {number} [cap]
 * @returns {string}
 */
export function badgeText(count, cap = BADGE_CAP) {
  const n = Math.floor(Number(count));
  if (!Number.isFinite(n) || n <= 0) return "";
  return n > cap ? `${cap}+` : String(n);
}

/**
 * Tracks the seqs a client has seen: dedupes, and notices gaps.
 *
 * `since` is the largest seq below which nothing is missing: it is what `?since=` and `sync` send.
 * Seqs seen above a gap are remembered so that the replay that fills the gap shows each one once.
 */
export class SeqTracker {
  /** @param {number} [since] */
  constructor(since = 0) {
    this.reset(since);
  }

  /** @param {number} since forget everything and start after this seq */
  reset(since = 0) {
    this.since = Math.max(0, Math.floor(Number(since)) || 0);
    /** @type {Set<number>} */
    this.ahead = new Set();
    /** @type {number | null} the `since` a sync was last asked for */
    this.requested = null;
    /** @type {number | null} the `last_seq` of the `welcome` whose replay is arriving */
    this.replayThrough = null;
  }

  /**
   * A `welcome` said that the replay after it holds every notification up to `lastSeq` that still exists.
   * Meanwhile a gap asks for no `sync`; once a seq at or past it arrives, the gaps below are permanent
   * (deleted notifications, or grouped ones that moved to a newer seq) and are settled.
   * @param {number} lastSeq
   */
  expectReplay(lastSeq) {
    const seq = Math.floor(Number(lastSeq));
    this.replayThrough = Number.isFinite(seq) && seq > this.since ? seq : null;
  }

  /** True while some seq below the highest one seen is missing. */
  get hasGap() {
    return this.ahead.size > 0;
  }

  /** The highest seq seen. */
  get highest() {
    return Math.max(this.since, ...this.ahead);
  }

  /**
   * Records a seq.
   * @param {number} seq
   * @returns {{fresh: boolean, sync: number | null}} fresh: first time seen (show it);
   *   sync: ask the server for `sync {since: sync}` (a new gap), else null
   */
  accept(seq) {
    if (!Number.isInteger(seq) || seq <= 0) return { fresh: false, sync: null };
    if (seq <= this.since || this.ahead.has(seq)) return { fresh: false, sync: null };
    const inOrder = seq === this.since + 1;
    if (inOrder) {
      this.since = seq;
      while (this.ahead.has(this.since + 1)) {
        this.since += 1;
        this.ahead.delete(this.since);
      }
    } else {
      this.ahead.add(seq);
    }
    if (this.replayThrough !== null && seq >= this.replayThrough) {
      this.settle();
      return { fresh: true, sync: null };
    }
    if (inOrder) {
      if (!this.hasGap) this.requested = null;
      return { fresh: true, sync: null };
    }
    // Mid-replay, a gap is a hole the replay skips: nothing to ask for.
    if (this.replayThrough !== null || this.requested === this.since) return { fresh: true, sync: null };
    this.requested = this.since;
    return { fresh: true, sync: this.since };
  }

  /**
   * Asks again for a gap that is still open (after a reconnect): returns the `since` to sync from, or null.
   * @returns {number | null}
   */
  retry() {
    if (!this.hasGap) return null;
    this.requested = this.since;
    return this.since;
  }

  /**
   * Declares the open gaps permanent (the missing notifications were deleted before this client saw them):
   * `since` jumps to the highest seq seen.
   */
  settle() {
    this.since = this.highest;
    this.ahead.clear();
    this.requested = null;
    this.replayThrough = null;
  }
}

/**
 * The href a notification url may become: a same-origin path ("/x", not "//x" or "/\x") or an http(s) URL.
 * Anything else (javascript:, data:, protocol-relative, relative paths) gives null: render no link.
 * @param {unknown} url
 * @returns {string | null}
 */
export function safeHref(url) {
  if (typeof url !== "string" || url === "") return null;
  // Browsers strip these characters from URLs, which would let "java\tscript:" or " //evil" slip through.
  if (/[\u0000-\u0020\u007f-\u009f]/.test(url)) return null;
  if (url.startsWith("/")) {
    return url.startsWith("//") || url.startsWith("/\\") ? null : url;
  }
  return /^https?:\/\/[^/\\]/i.test(url) ? url : null;
}

/**
 * When a notification was created, by the rule of the server's `notification_age` filter: "now" under a
 * minute (and for a clock ahead of ours), "5 minutes ago" (the largest unit, floored) under a week, else
 * a date. Words come from the browser's Intl in `locale` (the page's language).
 * @param {string} iso
 * @param {number} [now] milliseconds since the epoch
 * @param {string} [locale]
 * @returns {string} "" when `iso` is not a date
 */
export function formatTime(iso, now = Date.now(), locale = undefined) {
  const when = Date.parse(iso);
  if (!Number.isFinite(when)) return "";
  const age = Math.floor((now - when) / 1000);
  if (age >= 7 * 86400 || typeof Intl === "undefined" || !Intl.RelativeTimeFormat) {
    return new Date(when).toLocaleDateString(locale);
  }
  if (age < 60) return new Intl.RelativeTimeFormat(locale, { numeric: "auto" }).format(0, "second");
  const relative = new Intl.RelativeTimeFormat(locale, { numeric: "always" });
  if (age < 3600) return relative.format(-Math.floor(age / 60), "minute");
  if (age < 86400) return relative.format(-Math.floor(age / 3600), "hour");
  return relative.format(-Math.floor(age / 86400), "day");
}

/** This browser's IANA time zone ("Europe/Paris"), or "" (the server's then). */
export function browserTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    return "";
  }
}

/**
 * Normalises ids given to markRead()/delete(): a list of positive integers, deduplicated, in order.
 * @param {unknown} ids a number or an iterable of numbers or numeric strings
 * @returns {number[]}
 */
export function normalizeIds(ids) {
  const list = typeof ids === "number" || typeof ids === "string" ? [ids] : Array.from(ids ?? []);
  const out = [];
  for (const raw of list) {
    const id = Number(raw);
    if (Number.isInteger(id) && id > 0 && !out.includes(id)) out.push(id);
  }
  return out;
}

/**
 * What one tab knows: the latest notifications (newest first, at most `limit`), the unread count and the
 * unseen count.
 *
 * The counts come from the server (exact in every `welcome` and state-change frame); between those
 * frames a fresh notification adds to them what it changed, unless the counts it was given already
 * included that seq (catch-up replays seqs that the `welcome` counts cover). A new one adds one to each
 * it is not (read, seen). A grouped notification that collapsed one more event (`group_count` above 1)
 * was unread and counted already, and is unseen again: it adds one unseen if the item it replaces was
 * seen. Such a notification keeps its id and gets a new seq: it replaces the item with that id.
 */
export class NotificationStore {
  /**
   * @param {{items?: object[], unreadCount?: number, unseenCount?: number, countedThrough?: number, limit?: number}} [init]
   */
  constructor({ items = [], unreadCount = 0, unseenCount = 0, countedThrough = 0, limit = 20 } = {}) {
    this.limit = limit;
    /** @type {object[]} */
    this.items = [];
    this.unreadCount = Math.max(0, Number(unreadCount) || 0);
    this.unseenCount = Math.max(0, Number(unseenCount) || 0);
    this.counted = new SeqTracker(countedThrough);
    for (const item of items) this.insert(item);
  }

  /**
   * Replaces everything with a fresh snapshot (from the HTTP API).
   * @param {object[]} items
   * @param {number} unreadCount
   * @param {number} lastSeq
   */
  replace(items, unreadCount, lastSeq) {
    this.items = [];
    for (const item of items) this.insert(item);
    this.setCount(unreadCount, lastSeq);
  }

  /**
   * An exact count from the server, covering every seq up to lastSeq when given.
   * @param {number} unreadCount
   * @param {number} [lastSeq]
   */
  setCount(unreadCount, lastSeq) {
    const n = Number(unreadCount);
    if (Number.isFinite(n)) this.unreadCount = Math.max(0, Math.floor(n));
    if (lastSeq !== undefined) this.counted.reset(lastSeq);
  }

  /**
   * A notification arrived (the caller has already deduped it by seq).
   * @param {{id: number, seq: number, read?: boolean}} notification
   */
  add(notification) {
    if (this.counted.accept(notification.seq).fresh) {
      const before = this.items.find((item) => item.id === notification.id) ?? this.unshown(notification);
      this.unreadCount += Number(!notification.read) - Number(!before.read);
      this.unseenCount += Number(!notification.seen) - Number(!before.seen);
    }
    this.insert(notification);
  }

  /**
   * What a notification this tab does not show was before it arrived: not counted (a new one, or one
   * that woke), or, for a grouped one that collapsed one more event (`group_count` above 1), an unread
   * notification already counted, further down the inbox than the dropdown shows and so taken as unseen.
   * (A grouped one that woke from a snooze looks the same; the next frame with counts corrects them.)
   * @param {{group_count?: number}} notification
   * @returns {{read: boolean, seen: boolean}}
   */
  unshown(notification) {
    const collapsed = Number(notification.group_count) > 1;
    return { read: !collapsed, seen: !collapsed };
  }

  /**
   * Adds a notification, or replaces the item with its id when it is newer (a grouped one collapsed, or
   * a snoozed one woke).
   * @param {{id: number, seq: number}} notification
   */
  insert(notification) {
    if (!notification) return;
    const current = this.items.find((item) => item.id === notification.id);
    if (current && current.seq >= notification.seq) return;
    if (current) this.items = this.items.filter((item) => item !== current);
    this.items.push({ ...notification });
    this.items.sort((a, b) => b.seq - a.seq);
    if (this.items.length > this.limit) this.items.length = this.limit;
  }

  /**
   * @param {number[]} ids
   * @param {boolean} read
   * @param {number} [unreadCount]
   */
  setRead(ids, read, unreadCount) {
    const wanted = new Set(ids);
    // Reading is seeing.
    this.items = this.items.map((item) => (wanted.has(item.id) ? { ...item, read, seen: item.seen || read } : item));
    this.setCount(unreadCount ?? this.unreadCount);
  }

  /**
   * An exact unseen count from the server (ignored when the frame had none).
   * @param {number | undefined} unseenCount
   */
  setUnseen(unseenCount) {
    const n = Number(unseenCount);
    if (unseenCount !== undefined && Number.isFinite(n)) this.unseenCount = Math.max(0, Math.floor(n));
  }

  /**
   * @param {number[]} ids
   * @param {number} [unseenCount]
   */
  setSeen(ids, unseenCount) {
    const wanted = new Set(ids);
    this.items = this.items.map((item) => (wanted.has(item.id) ? { ...item, seen: true } : item));
    this.setUnseen(unseenCount);
  }

  /** @returns {number[]} the ids shown that are not seen yet */
  unseenIds() {
    return this.items.filter((item) => !item.seen && !item.read).map((item) => item.id);
  }

  /**
   * @param {number[]} ids
   * @param {number} [unreadCount]
   */
  remove(ids, unreadCount) {
    const gone = new Set(ids);
    this.items = this.items.filter((item) => !gone.has(item.id));
    this.setCount(unreadCount ?? this.unreadCount);
  }
}

/**
 * Which tabs are visible, as the leader hears it over the BroadcastChannel.
 * A native notification is shown only when no tab is visible.
 */
export class VisibilityRegistry {
  constructor() {
    /** @type {Map<string, boolean>} */
    this.tabs = new Map();
  }

  /**
   * @param {string} tabId
   * @param {boolean} visible
   */
  set(tabId, visible) {
    this.tabs.set(tabId, Boolean(visible));
  }

  /** @param {string} tabId a tab that closed */
  forget(tabId) {
    this.tabs.delete(tabId);
  }

  /** @returns {boolean} */
  anyVisible() {
    for (const visible of this.tabs.values()) if (visible) return true;
    return false;
  }
}

/**
 * At most `limit` events per sliding window: keeps a catch-up burst from opening dozens of desktop
 * notifications or beeping dozens of times.
 */
export class Throttle {
  /**
   * @param {number} limit
   * @param {number} windowMs
   * @param {() => number} [now]
   */
  constructor(limit, windowMs, now = () => Date.now()) {
    this.limit = limit;
    this.windowMs = windowMs;
    this.now = now;
    /** @type {number[]} */
    this.times = [];
  }

  /** @returns {boolean} whether one more event may happen now (and counts it) */
  allow() {
    const now = this.now();
    this.times = this.times.filter((t) => now - t < this.windowMs);
    if (this.times.length >= this.limit) return false;
    this.times.push(now);
    return true;
  }
}
