// The client's changes (markRead, archive, snooze ...): over the socket when one is open, else one POST
// to the JSON API path of changes.js's table, whose answer is applied and shared as its server frame.
import assert from "node:assert/strict";
import { after, beforeEach, describe, it } from "node:test";

import { NotificationsClient } from "../../notifications/static/notifications/js/client.js";

const saved = { fetch: globalThis.fetch, location: globalThis.location };
let requests;

/** A client without a page: its socket open or not, what it sends, applies and shares recorded. */
function fakeClient({ socketOpen = false } = {}) {
  const client = Object.create(NotificationsClient.prototype);
  Object.assign(client, {
    config: { apiUrl: "/notifications/api/", csrfToken: "token" },
    state: socketOpen ? "open" : "closed",
    sent: [],
    shared: [],
    applied: [],
    refreshed: 0,
  });
  client.connection = { send: (frame) => socketOpen && client.sent.push(frame) > 0 };
  client.tabs = { isLeader: true, share: (frame) => client.shared.push(frame) };
  Object.defineProperty(client, "isLeader", { value: true });
  client.handleFrame = (frame) => client.applied.push(frame);
  client.refresh = async () => {
    client.refreshed += 1;
  };
  return client;
}

beforeEach(() => {
  requests = [];
  globalThis.location = { href: "https://example.test/page/" };
  globalThis.fetch = async (url, init) => {
    const body = init.body === undefined ? undefined : JSON.parse(init.body);
    requests.push({ url: String(url), method: init.method, body, keepalive: init.keepalive });
    return { ok: true, json: async () => ({ ids: body?.ids ?? [7], unread_count: 1, unseen_count: 2 }) };
  };
});

after(() => Object.assign(globalThis, saved));

describe("changes without a socket", () => {
  const API = "https://example.test/notifications/api/";
  const AT = "2030-01-01T09:00:00+01:00";
  const cases = [
    ["markRead", [[3, "3", 4]], "mark-read/", { ids: [3, 4] }, "read"],
    ["markAllRead", [], "mark-all-read/", undefined, "read"],
    ["remove", [5], "delete/", { ids: [5] }, "deleted"],
    ["markSeen", [[6]], "mark-seen/", { ids: [6] }, "seen"],
    ["archive", [8], "archive/", { ids: [8] }, "archived"],
    ["unarchive", [9], "unarchive/", { ids: [9] }, "unarchived"],
    ["snooze", [10, AT], "snooze/", { type: "snooze", ids: [10], until: AT }, "snoozed"],
  ];

  for (const [verb, args, path, body, answerType] of cases) {
    it(`${verb} posts to ${path} and applies and shares a ${answerType} frame`, async () => {
      const client = fakeClient();
      await client[verb](...args);
      assert.deepEqual(requests, [{ url: API + path, method: "POST", body, keepalive: false }]);
      const answer = { type: answerType, ids: body?.ids ?? [7], unread_count: 1, unseen_count: 2, until: undefined };
      assert.deepEqual(client.applied, [answer]);
      assert.deepEqual(client.shared, [answer]);
      // Unarchived ones come back in the inbox: only a new snapshot shows them.
      assert.equal(client.refreshed, verb === "unarchive" ? 1 : 0);
    });
  }

  it("sends nothing for no ids", async () => {
    const client = fakeClient();
    await Promise.all([client.markRead([]), client.remove("x"), client.archive([0, -1]), client.snooze([], "1h")]);
    assert.deepEqual(requests, []);
  });

  it("posts another tab's change over HTTP when the socket it was meant for is gone, and nothing else", async () => {
    const client = fakeClient();
    client.changeOverHttp({ type: "sync", since: 3 });
    client.changeOverHttp({ type: "toString" });
    client.changeOverHttp({ type: "archive", ids: ["11", 11] });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(requests, [{ url: `${API}archive/`, method: "POST", body: { ids: [11] }, keepalive: false }]);
  });
});

describe("changes with a socket", () => {
  it("sends the frame on the socket, and makes no request", async () => {
    const client = fakeClient({ socketOpen: true });
    await client.markSeen([1, 2]);
    await client.snooze(3, "1h");
    await client.markAllRead();
    assert.deepEqual(requests, []);
    assert.deepEqual(client.sent.map(({ tz, ...frame }) => frame), [
      { type: "mark_seen", ids: [1, 2] },
      { type: "snooze", ids: [3], preset: "1h" },
      { type: "mark_all_read" },
    ]);
    assert.equal(typeof client.sent[1].tz, "string");
  });

  it("posts a keepalive markRead (a click that leaves the page) over HTTP anyway", async () => {
    const client = fakeClient({ socketOpen: true });
    await client.markRead(1, { keepalive: true });
    assert.deepEqual(client.sent, []);
    assert.equal(requests[0].keepalive, true);
    assert.ok(requests[0].url.endsWith("/mark-read/"));
  });
});

describe("the page controls' actions", () => {
  it("make the change their data-notifications-action names, and nothing for another", async () => {
    const client = fakeClient({ socketOpen: true });
    await client.act("archive", [1]);
    await client.act("unarchive", [2], "");
    await client.act("snooze", [3], "next_week");
    await client.act("delete", [4]);
    await client.act("mark-read", [5]);
    await client.act("mark-seen", [6]);
    await client.act("mark-all-read", [7]);
    assert.deepEqual(client.sent.map(({ tz, ...frame }) => frame), [
      { type: "archive", ids: [1] },
      { type: "unarchive", ids: [2] },
      { type: "snooze", ids: [3], preset: "next_week" },
      { type: "delete", ids: [4] },
      { type: "mark_read", ids: [5] },
      { type: "mark_seen", ids: [6] },
      { type: "mark_all_read" },
    ]);
    for (const action of ["bogus", "toString", undefined, ""]) assert.equal(client.act(action, [1]), null, action);
    assert.equal(client.sent.length, 7);
  });
});
