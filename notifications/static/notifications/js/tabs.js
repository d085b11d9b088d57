// The tabs of one browser share one WebSocket: Web Locks elect the leader tab that holds it, and a
// BroadcastChannel carries what the leader hears to the other tabs and their frames to the leader.
// The messages between tabs:
//   hello, status            a tab joins; the leader answers with its connection state and seq
//   leader, visibility, bye  who leads now; which tabs are visible (desktop notifications); a tab leaves
//   frame, connection        the leader's server frames and socket states, relayed
//   send                     another tab's client frame, for the leader to send

import { VisibilityRegistry } from "./core.js";

// Suffixed with ":<user id>" when the page says whose it is, so tabs of different sessions never mix.
const CHANNEL_NAME = "notifications";
const LOCK_NAME = "notifications-leader";

/** This tab among the browser's tabs: leader (it holds the socket) or follower (the relay). */
export class Tabs {
  /** @param {import("./client.js").NotificationsClient} client */
  constructor(client) {
    this.client = client;
    this.id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    this.visibility = new VisibilityRegistry();
    this.isLeader = false;
    this.channel = null;
    this.sawLeader = false;
    this.releaseLock = null;
  }

  /** Joins this user's other tabs and waits for the lead (takes it at once without Web Locks). */
  join() {
    this.visibility.set(this.id, this.isVisible());
    document.addEventListener("visibilitychange", () => this.announceVisibility());
    // A page on its way out leaves the queue for the lead: it must not take over while it unloads.
    const leaving = new AbortController();
    window.addEventListener("pagehide", () => {
      this.post({ kind: "bye", tabId: this.id });
      leaving.abort();
    });

    const locks = navigator.locks;
    if (typeof BroadcastChannel !== "undefined" && locks && typeof locks.request === "function") {
      const scope = this.client.config.userId ? `:${this.client.config.userId}` : "";
      this.channel = new BroadcastChannel(CHANNEL_NAME + scope);
      this.channel.addEventListener("message", (event) => this.onMessage(event.data));
      this.post({ kind: "hello", tabId: this.id, visible: this.isVisible(), since: this.client.tracker.since });
      // The lock is held for the life of this page: when the tab closes, the next waiting tab gets it.
      locks
        .request(
          LOCK_NAME + scope,
          { signal: leaving.signal },
          () =>
            new Promise((release) => {
              this.releaseLock = release;
              this.lead();
            }),
        )
        .catch(() => {
          if (!leaving.signal.aborted) this.lead();
        });
    } else {
      // No cross-tab coordination: every tab holds its own socket.
      this.lead();
    }
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

  /** Gives the other tabs a server frame this tab applies (heard on its socket, or an HTTP answer). */
  share(frame) {
    this.post({ kind: "frame", frame });
  }

  /**
   * Hands a client frame to the leader, which sends it on its socket.
   * @param {object} frame
   * @returns {boolean} false when there is no other tab to reach
   */
  relay(frame) {
    if (!this.channel) return false;
    this.post({ kind: "send", frame });
    return true;
  }

  announceVisibility() {
    const visible = this.isVisible();
    this.visibility.set(this.id, visible);
    this.post({ kind: "visibility", tabId: this.id, visible });
  }

  lead() {
    if (this.isLeader) return;
    this.isLeader = true;
    this.client.root.dataset.leader = "true";
    this.visibility = new VisibilityRegistry();
    this.visibility.set(this.id, this.isVisible());
    this.post({ kind: "leader", tabId: this.id });
    // Taking over from another tab: that tab may have left because the user signed out.
    this.client.connect({ checkFirst: this.sawLeader });
  }

  /** A signed-out page gives up the lead (and the lock), so it never blocks a later session's tabs. */
  resign() {
    this.isLeader = false;
    delete this.client.root.dataset.leader;
    this.releaseLock?.();
    this.releaseLock = null;
  }

  /** @param {any} message a BroadcastChannel message from another tab */
  onMessage(message) {
    if (!message || typeof message !== "object") return;
    const client = this.client;
    if (["frame", "connection", "status"].includes(message.kind)) this.sawLeader = true;
    switch (message.kind) {
      case "frame":
        client.handleFrame(message.frame);
        break;
      case "connection":
        if (message.final) client.signedOut = true;
        // Another tab of this user is connected: the session is valid again (signed back in).
        if (message.state === "open") client.signedOut = false;
        if (!this.isLeader && !client.signedOut) client.setState(message.state);
        if (!this.isLeader && message.final) client.setState("signed-out");
        break;
      case "send":
        // The socket may have dropped since the other tab asked: then the change goes over HTTP.
        if (this.isLeader && !client.connection?.send(message.frame)) client.changeOverHttp(message.frame);
        break;
      case "hello":
        if (this.isLeader) {
          this.visibility.set(message.tabId, message.visible);
          this.post({ kind: "status", to: message.tabId, state: client.state, since: client.tracker.since });
        }
        break;
      case "status":
        if (message.to === this.id && !this.isLeader) {
          client.setState(message.state);
          // The leader has seen more than this page was rendered with: ask for what is missing.
          if (message.since > client.tracker.since) client.send({ type: "sync", since: client.tracker.since });
        }
        break;
      case "leader":
        if (message.tabId !== this.id) this.post({ kind: "visibility", tabId: this.id, visible: this.isVisible() });
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
}
