// The Connection class: reconnects with backoff, keep-alive, 4401, driven by a fake socket and clock.
import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";

import { Backoff, Connection } from "../../notifications/static/notifications/js/connection.js";

class FakeClock {
  constructor() {
    this.now = 0;
    this.nextId = 1;
    this.pending = new Map();
  }

  setTimeout(fn, ms) {
    const id = this.nextId++;
    this.pending.set(id, { at: this.now + ms, fn });
    return id;
  }

  clearTimeout(id) {
    this.pending.delete(id);
  }

  advance(ms) {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.pending.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at);
      if (due.length === 0) break;
      const [id, timer] = due[0];
      this.pending.delete(id);
      this.now = timer.at;
      timer.fn();
    }
    this.now = end;
  }
}

let sockets;

class FakeSocket {
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.closedWith = null;
    sockets.push(this);
  }

  send(data) {
    this.sent.push(JSON.parse(data));
  }

  close(code) {
    this.closedWith = code;
  }

  open() {
    this.onopen?.({});
  }

  receive(frame) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  serverClose(code) {
    this.onclose?.({ code });
  }
}

function make(overrides = {}) {
  const clock = new FakeClock();
  const frames = [];
  const states = [];
  let since = 0;
  const connection = new Connection({
    url: () => `ws://test/ws/notifications/?since=${since}`,
    onFrame: (frame) => frames.push(frame),
    onState: (state, info) => states.push({ state, ...info }),
    WebSocket: FakeSocket,
    backoff: new Backoff({ base: 1000, cap: 30000, random: () => 0.5 }),
    timers: clock,
    ...overrides,
  });
  return { clock, frames, states, connection, setSince: (value) => (since = value) };
}

describe("Connection", () => {
  beforeEach(() => {
    sockets = [];
  });

  it("connects, reports states and passes frames on", () => {
    const { connection, frames, states } = make();
    connection.start();
    assert.equal(sockets.length, 1);
    assert.equal(states.at(-1).state, "connecting");
    sockets[0].open();
    assert.equal(states.at(-1).state, "open");
    sockets[0].receive({ type: "welcome", unread_count: 0, last_seq: 0 });
    assert.deepEqual(frames, [{ type: "welcome", unread_count: 0, last_seq: 0 }]);
    assert.equal(connection.send({ type: "mark_all_read" }), true);
    assert.deepEqual(sockets[0].sent, [{ type: "mark_all_read" }]);
  });

  it("does not send while closed", () => {
    const { connection } = make();
    connection.start();
    assert.equal(connection.send({ type: "mark_all_read" }), false);
  });

  it("reconnects with growing backoff and resumes with the current since", () => {
    const { connection, clock, states, setSince } = make();
    connection.start();
    sockets[0].serverClose(1006);
    assert.equal(states.at(-1).delay, 500);
    clock.advance(499);
    assert.equal(sockets.length, 1);
    setSince(12);
    clock.advance(1);
    assert.equal(sockets.length, 2);
    assert.equal(sockets[1].url, "ws://test/ws/notifications/?since=12");
    sockets[1].serverClose(1006);
    assert.equal(states.at(-1).delay, 1000);
    clock.advance(1000);
    assert.equal(sockets.length, 3);
  });

  it("resets the backoff once the server says welcome", () => {
    const { connection, clock, states } = make();
    connection.start();
    sockets[0].serverClose(1006);
    clock.advance(500);
    sockets[1].serverClose(1006);
    clock.advance(1000);
    sockets[2].open();
    sockets[2].receive({ type: "welcome", unread_count: 0, last_seq: 0 });
    sockets[2].serverClose(1011);
    assert.equal(states.at(-1).delay, 500);
  });

  it("stops reconnecting on 4401", () => {
    const { connection, clock, states } = make();
    connection.start();
    sockets[0].open();
    sockets[0].serverClose(4401);
    assert.deepEqual(states.at(-1), { state: "closed", code: 4401, final: true });
    clock.advance(120000);
    assert.equal(sockets.length, 1);
  });

  it("waits between half the cap and the cap after 4029, however often it comes", () => {
    const { connection, clock, states } = make();
    connection.start();
    for (let i = 0; i < 5; i++) {
      sockets[i].open();
      sockets[i].serverClose(4029);
      assert.deepEqual(states.at(-1), { state: "closed", code: 4029, final: false, delay: 22500 });
      clock.advance(22499);
      assert.equal(sockets.length, i + 1);
      clock.advance(1);
    }
    // A place freed: the welcome resets the backoff as after any other close.
    sockets[5].open();
    sockets[5].receive({ type: "welcome", unread_count: 0, last_seq: 0 });
    sockets[5].serverClose(1006);
    assert.equal(states.at(-1).delay, 500);
  });

  it("backs off from the cap after a 4029 when the next attempt fails otherwise", () => {
    const { connection, clock, states } = make();
    connection.start();
    sockets[0].open();
    sockets[0].serverClose(4029);
    clock.advance(22500);
    sockets[1].serverClose(1006);
    assert.equal(states.at(-1).delay, 15000);
  });

  it("pings and treats a missing pong as a dead connection", () => {
    const { connection, clock } = make();
    connection.start();
    sockets[0].open();
    clock.advance(25000);
    assert.deepEqual(sockets[0].sent, [{ type: "ping" }]);
    clock.advance(9999);
    assert.equal(sockets.length, 1);
    clock.advance(1);
    assert.equal(sockets[0].closedWith, 4000);
    clock.advance(500);
    assert.equal(sockets.length, 2, "reconnected after the backoff");
  });

  it("keeps the connection when the pong comes back", () => {
    const { connection, clock, frames } = make();
    connection.start();
    sockets[0].open();
    clock.advance(25000);
    sockets[0].receive({ type: "pong" });
    clock.advance(24000);
    assert.equal(sockets[0].closedWith, null);
    assert.deepEqual(frames, [], "pong is handled inside the connection");
    clock.advance(1000);
    assert.equal(sockets[0].sent.length, 2);
  });

  it("ignores frames that are not JSON objects", () => {
    const { connection, frames } = make();
    connection.start();
    sockets[0].open();
    sockets[0].onmessage({ data: "not json" });
    sockets[0].onmessage({ data: "3" });
    assert.deepEqual(frames, []);
  });

  it("stop() closes for good", () => {
    const { connection, clock, states } = make();
    connection.start();
    sockets[0].open();
    connection.stop();
    assert.equal(sockets[0].closedWith, 1000);
    assert.equal(states.at(-1).final, true);
    clock.advance(120000);
    assert.equal(sockets.length, 1);
  });

  it("reconnectNow() skips the wait", () => {
    const { connection } = make();
    connection.start();
    sockets[0].serverClose(1006);
    connection.reconnectNow();
    assert.equal(sockets.length, 2);
  });
});

describe("Connection session check", () => {
  beforeEach(() => {
    sockets = [];
  });

  const flush = () => new Promise((resolve) => setImmediate(resolve));

  it("stops when a refused handshake turns out to be a signed-out session", async () => {
    let checks = 0;
    const { connection, clock, states } = make({ checkSession: async () => (checks++, false) });
    connection.start();
    sockets[0].serverClose(1006);
    clock.advance(500);
    await flush();
    assert.equal(checks, 1);
    assert.equal(sockets.length, 1, "no new socket");
    assert.deepEqual(states.at(-1), { state: "closed", code: 4401, final: true });
  });

  it("reconnects after a refused handshake while still signed in", async () => {
    const { connection, clock } = make({ checkSession: async () => true });
    connection.start();
    sockets[0].serverClose(1006);
    clock.advance(500);
    await flush();
    assert.equal(sockets.length, 2);
  });

  it("keeps trying when the check itself fails (offline)", async () => {
    const { connection, clock } = make({
      checkSession: async () => {
        throw new TypeError("Failed to fetch");
      },
    });
    connection.start();
    sockets[0].serverClose(1006);
    clock.advance(500);
    await flush();
    assert.equal(sockets.length, 2);
  });

  it("does not check after a socket that was open (a server restart)", async () => {
    let checks = 0;
    const { connection, clock } = make({ checkSession: async () => (checks++, true) });
    connection.start();
    sockets[0].open();
    sockets[0].serverClose(1012);
    clock.advance(500);
    await flush();
    assert.equal(checks, 0);
    assert.equal(sockets.length, 2);
  });

  it("start({checkFirst}) checks before the first socket", async () => {
    const { connection } = make({ checkSession: async () => false });
    connection.start({ checkFirst: true });
    await flush();
    assert.equal(sockets.length, 0);
  });
});
