// Unit tests for the client's pure logic: node --test tests/js/
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Backoff, backoffDelay, socketUrl } from "../../notifications/static/notifications/js/connection.js";
import {
  BADGE_CAP,
  badgeText,
  formatTime,
  NotificationStore,
  normalizeIds,
  safeHref,
  SeqTracker,
  Throttle,
  VisibilityRegistry,
} from "../../notifications/static/notifications/js/core.js";

describe("badgeText", () => {
  it("is empty at zero so the badge hides", () => {
    assert.equal(badgeText(0), "");
    assert.equal(badgeText(-3), "");
    assert.equal(badgeText(Number.NaN), "");
  });

  it("shows the count up to the cap", () => {
    assert.equal(badgeText(1), "1");
    assert.equal(badgeText(BADGE_CAP), "99");
  });

  it("caps at 99+", () => {
    assert.equal(badgeText(100), "99+");
    assert.equal(badgeText(123456), "99+");
  });
});

describe("backoffDelay", () => {
  it("stays within [0, base * 2^attempt)", () => {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const ceiling = 1000 * 2 ** attempt;
      assert.equal(backoffDelay(attempt, { random: () => 0 }), 0);
      assert.equal(backoffDelay(attempt, { random: () => 0.999999 }), Math.floor(0.999999 * ceiling));
      assert.ok(backoffDelay(attempt, { random: () => 0.999999 }) < ceiling);
    }
  });

  it("is capped", () => {
    assert.equal(backoffDelay(10, { random: () => 0.5 }), 15000);
    assert.equal(backoffDelay(1000, { random: () => 0.5, cap: 30000 }), 15000);
    assert.equal(backoffDelay(3, { base: 500, cap: 2000, random: () => 0.5 }), 1000);
  });

  it("uses full jitter: delays spread over the whole range", () => {
    const delays = Array.from({ length: 2000 }, () => backoffDelay(4));
    assert.ok(delays.every((d) => d >= 0 && d < 16000 && Number.isInteger(d)));
    assert.ok(Math.min(...delays) < 2000, "some delays near zero");
    assert.ok(Math.max(...delays) > 14000, "some delays near the ceiling");
  });
});

describe("Backoff", () => {
  it("grows per attempt and resets", () => {
    const backoff = new Backoff({ base: 1000, cap: 30000, random: () => 0.5 });
    assert.deepEqual([backoff.next(), backoff.next(), backoff.next(), backoff.next()], [500, 1000, 2000, 4000]);
    for (let i = 0; i < 100; i += 1) backoff.next();
    assert.equal(backoff.next(), 15000);
    backoff.reset();
    assert.equal(backoff.next(), 500);
  });
});

describe("SeqTracker", () => {
  it("accepts consecutive seqs and advances since", () => {
    const tracker = new SeqTracker(4);
    assert.deepEqual(tracker.accept(5), { fresh: true, sync: null });
    assert.deepEqual(tracker.accept(6), { fresh: true, sync: null });
    assert.equal(tracker.since, 6);
  });

  it("dedupes seqs already seen", () => {
    const tracker = new SeqTracker(0);
    tracker.accept(1);
    tracker.accept(2);
    assert.equal(tracker.accept(2).fresh, false);
    assert.equal(tracker.accept(1).fresh, false);
    assert.equal(new SeqTracker(10).accept(7).fresh, false);
  });

  it("rejects seqs that are not positive integers", () => {
    const tracker = new SeqTracker(0);
    for (const bad of [0, -1, 1.5, "1", null, undefined]) assert.equal(tracker.accept(bad).fresh, false);
    assert.equal(tracker.since, 0);
  });

  it("detects a gap, asks once for sync from the last contiguous seq", () => {
    const tracker = new SeqTracker(3);
    assert.deepEqual(tracker.accept(6), { fresh: true, sync: 3 });
    assert.deepEqual(tracker.accept(7), { fresh: true, sync: null });
    assert.ok(tracker.hasGap);
    assert.equal(tracker.since, 3, "since stays below the gap so a reconnect replays it");
    assert.equal(tracker.highest, 7);
  });

  it("settles the holes of a replay once it reaches the welcome's last_seq, without a sync", () => {
    // seq 2 was a grouped notification that moved to seq 4; seq 3 was deleted.
    const tracker = new SeqTracker(1);
    tracker.expectReplay(5);
    assert.deepEqual(tracker.accept(4), { fresh: true, sync: null });
    assert.deepEqual(tracker.accept(5), { fresh: true, sync: null });
    assert.equal(tracker.since, 5);
    assert.equal(tracker.hasGap, false);
    assert.deepEqual(tracker.accept(7), { fresh: true, sync: 5 }, "a later gap is asked for again");
  });

  it("fills the gap from the replay and shows each seq once", () => {
    const tracker = new SeqTracker(3);
    tracker.accept(6);
    const replay = [4, 5, 6, 7].map((seq) => tracker.accept(seq).fresh);
    assert.deepEqual(replay, [true, true, false, true]);
    assert.equal(tracker.since, 7);
    assert.equal(tracker.hasGap, false);
  });

  it("asks again for a second gap after the first was filled", () => {
    const tracker = new SeqTracker(0);
    assert.equal(tracker.accept(2).sync, 0);
    tracker.accept(1);
    assert.equal(tracker.accept(5).sync, 2);
  });

  it("retry() asks again for an open gap, and nothing without one", () => {
    const tracker = new SeqTracker(1);
    assert.equal(tracker.retry(), null);
    tracker.accept(4);
    assert.equal(tracker.retry(), 1);
  });

  it("settle() gives up on a permanent gap", () => {
    const tracker = new SeqTracker(1);
    tracker.accept(3);
    tracker.settle();
    assert.equal(tracker.since, 3);
    assert.equal(tracker.hasGap, false);
    assert.equal(tracker.accept(2).fresh, false);
    assert.deepEqual(tracker.accept(4), { fresh: true, sync: null });
  });

  it("reset() starts over", () => {
    const tracker = new SeqTracker(1);
    tracker.accept(5);
    tracker.reset(40);
    assert.equal(tracker.since, 40);
    assert.equal(tracker.hasGap, false);
    assert.equal(tracker.accept(41).fresh, true);
  });
});

describe("safeHref", () => {
  it("allows paths and http(s) URLs", () => {
    assert.equal(safeHref("/posts/3/"), "/posts/3/");
    assert.equal(safeHref("https://example.com/x"), "https://example.com/x");
    assert.equal(safeHref("HTTP://example.com"), "HTTP://example.com");
  });

  it("refuses everything else", () => {
    for (const bad of [
      "",
      null,
      42,
      "javascript:alert(1)",
      "JaVaScRiPt:alert(1)",
      "java\tscript:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "//evil.example/",
      "/\\evil.example/",
      " /x",
      "relative/path",
      "https:/evil",
      "https://",
    ]) {
      assert.equal(safeHref(bad), null, String(bad));
    }
  });
});

describe("socketUrl", () => {
  it("uses ws on http and wss on https, with since", () => {
    assert.equal(socketUrl({ protocol: "http:", host: "localhost:8000" }, "/ws/notifications/", 7), "ws://localhost:8000/ws/notifications/?since=7");
    assert.equal(socketUrl({ protocol: "https:", host: "example.com" }, "/ws/notifications/", 0), "wss://example.com/ws/notifications/?since=0");
  });
});

describe("normalizeIds", () => {
  it("keeps positive integers once", () => {
    assert.deepEqual(normalizeIds([3, "4", 3, -1, 0, 2.5, "x"]), [3, 4]);
    assert.deepEqual(normalizeIds(5), [5]);
    assert.deepEqual(normalizeIds(new Set([1, 2])), [1, 2]);
    assert.deepEqual(normalizeIds(undefined), []);
  });
});

describe("NotificationStore", () => {
  const n = (id, seq, read = false) => ({ id, seq, read, title: `n${id}` });

  it("keeps items newest first, once, up to the limit", () => {
    const store = new NotificationStore({ items: [n(1, 1), n(3, 3)], limit: 3 });
    store.add(n(2, 2));
    store.add(n(2, 2));
    store.add(n(4, 4));
    assert.deepEqual(store.items.map((item) => item.seq), [4, 3, 2]);
  });

  it("counts fresh unread arrivals past the server count only", () => {
    const store = new NotificationStore({ unreadCount: 2, countedThrough: 5 });
    store.add(n(5, 5));
    assert.equal(store.unreadCount, 2, "seq 5 is already in the server's count");
    store.add(n(6, 6));
    store.add(n(7, 7, true));
    assert.equal(store.unreadCount, 3);
  });

  it("counts a catch-up replay once: the welcome count covers it", () => {
    const store = new NotificationStore({ unreadCount: 0, countedThrough: 0 });
    store.setCount(3, 3);
    for (const seq of [1, 2, 3]) store.add(n(seq, seq));
    assert.equal(store.unreadCount, 3);
    store.add(n(4, 4));
    assert.equal(store.unreadCount, 4);
  });

  it("applies read, unread and deleted with the server's exact count", () => {
    const store = new NotificationStore({ items: [n(1, 1), n(2, 2)], unreadCount: 2, countedThrough: 2 });
    store.setRead([1], true, 1);
    assert.equal(store.items.find((item) => item.id === 1).read, true);
    assert.equal(store.unreadCount, 1);
    store.setRead([1], false, 2);
    assert.equal(store.items.find((item) => item.id === 1).read, false);
    store.remove([2], 1);
    assert.deepEqual(store.items.map((item) => item.id), [1]);
    assert.equal(store.unreadCount, 1);
  });

  it("replace() takes a snapshot", () => {
    const store = new NotificationStore({ items: [n(1, 1)], unreadCount: 1, countedThrough: 1 });
    store.replace([n(9, 9), n(8, 8)], 2, 9);
    assert.deepEqual(store.items.map((item) => item.id), [9, 8]);
    assert.equal(store.unreadCount, 2);
    store.add(n(9, 9));
    assert.equal(store.unreadCount, 2);
  });

  it("counts unseen arrivals, and seen and read ones lower the unseen count", () => {
    const store = new NotificationStore({ items: [n(1, 1)], unreadCount: 1, unseenCount: 1, countedThrough: 1 });
    store.add(n(2, 2));
    store.add({ ...n(3, 3), seen: true });
    assert.equal(store.unseenCount, 2);
    assert.deepEqual(store.unseenIds(), [2, 1]);
    store.setSeen([1, 2], 0);
    assert.equal(store.unseenCount, 0);
    assert.deepEqual(store.unseenIds(), []);
    store.add(n(4, 4));
    store.setRead([4], true, 0);
    assert.deepEqual(store.unseenIds(), [], "reading is seeing");
    store.setUnseen(undefined);
    assert.equal(store.unseenCount, 1, "a frame without the count leaves it alone");
  });

  it("a notification back with its id and a newer seq replaces its entry, at the top", () => {
    const store = new NotificationStore({ items: [n(1, 1, true), n(2, 2)], unreadCount: 1, countedThrough: 2 });
    store.add(n(1, 3));
    assert.deepEqual(store.items.map((item) => [item.id, item.seq, item.read]), [
      [1, 3, false],
      [2, 2, false],
    ]);
    assert.equal(store.unreadCount, 2);
    store.insert(n(1, 1, true));
    assert.equal(store.items[0].seq, 3, "an older copy does not bring back the old entry");
  });
});

describe("VisibilityRegistry", () => {
  it("knows whether any tab is visible", () => {
    const tabs = new VisibilityRegistry();
    assert.equal(tabs.anyVisible(), false);
    tabs.set("a", false);
    tabs.set("b", true);
    assert.equal(tabs.anyVisible(), true);
    tabs.forget("b");
    assert.equal(tabs.anyVisible(), false);
  });
});

describe("Throttle", () => {
  it("allows `limit` events per sliding window", () => {
    let now = 0;
    const throttle = new Throttle(3, 10000, () => now);
    assert.deepEqual([throttle.allow(), throttle.allow(), throttle.allow(), throttle.allow()], [true, true, true, false]);
    now = 9999;
    assert.equal(throttle.allow(), false);
    now = 10000;
    assert.equal(throttle.allow(), true);
    assert.equal(throttle.allow(), true);
    assert.equal(throttle.allow(), true);
    assert.equal(throttle.allow(), false);
  });
});

describe("formatTime", () => {
  const now = Date.parse("2026-11-28T12:00:00Z");
  it("gives short relative times in the past", () => {
    assert.equal(formatTime("2026-11-28T11:59:50Z", now, "en"), "now");
    // One rule with the server's notification_age: under a minute is "now", units are floored.
    assert.equal(formatTime("2026-11-28T11:59:01Z", now, "en"), "now");
    assert.equal(formatTime("2026-11-28T12:00:30Z", now, "en"), "now");
    assert.equal(formatTime("2026-11-28T11:59:00Z", now, "en"), "1 minute ago");
    assert.equal(formatTime("2026-11-28T11:58:01Z", now, "en"), "1 minute ago");
    assert.equal(formatTime("2026-11-27T12:00:00Z", now, "en"), "1 day ago");
    assert.equal(formatTime("2026-11-28T11:55:00Z", now, "fr"), "il y a 5 minutes");
    assert.equal(formatTime("2026-11-28T11:55:00Z", now, "en"), "5 minutes ago");
    assert.equal(formatTime("2026-11-28T09:00:00Z", now, "en"), "3 hours ago");
    assert.equal(formatTime("2026-11-25T12:00:00Z", now, "en"), "3 days ago");
  });

  it("gives a date past a week, nothing for a non-date", () => {
    assert.equal(formatTime("2026-10-01T12:00:00Z", now, "en"), new Date("2026-10-01T12:00:00Z").toLocaleDateString("en"));
    assert.equal(formatTime("not a date", now, "en"), "");
    assert.equal(formatTime(undefined, now, "en"), "");
  });
});

describe("NotificationStore and grouped notifications", () => {
  const g = (id, seq, count, read = false) => ({ id, seq, read, group_key: "k", group_count: count });

  it("replaces the item with the same id by the collapsed one, on top, without counting it again", () => {
    const store = new NotificationStore({ unreadCount: 0, countedThrough: 0 });
    store.add(g(1, 1, 1));
    store.add({ id: 2, seq: 2, read: false });
    store.add(g(1, 3, 2));
    assert.deepEqual(store.items.map((item) => [item.id, item.seq, item.group_count ?? null]), [
      [1, 3, 2],
      [2, 2, null],
    ]);
    assert.equal(store.unreadCount, 2, "one per group, not per event");
    store.insert(g(1, 1, 1));
    assert.equal(store.items[0].seq, 3, "an older state never replaces a newer one");
  });

  it("counts a group that started while it was not in the list", () => {
    const store = new NotificationStore({ unreadCount: 0, countedThrough: 0 });
    store.add(g(7, 1, 1));
    store.setRead([7], true, 0);
    store.add(g(8, 2, 1));
    assert.equal(store.unreadCount, 1);
  });

  it("counts a collapse into a seen group as unseen again, and into an unseen one not at all", () => {
    const store = new NotificationStore({ unreadCount: 0, unseenCount: 0, countedThrough: 0 });
    store.add({ ...g(1, 1, 1), seen: false });
    store.setSeen([1], 0);
    store.add({ ...g(1, 2, 2), seen: false });
    assert.deepEqual([store.unreadCount, store.unseenCount], [1, 1], "the dropdown had shown it: new again");
    store.add({ ...g(1, 3, 3), seen: false });
    assert.deepEqual([store.unreadCount, store.unseenCount], [1, 1]);
    store.add({ ...g(9, 4, 5), seen: false });
    assert.deepEqual([store.unreadCount, store.unseenCount], [1, 1], "a group further down was counted already");
    assert.deepEqual(store.unseenIds(), [9, 1]);
  });
});
