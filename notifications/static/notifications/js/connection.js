// One WebSocket with reconnects (exponential backoff with full jitter), keep-alive, the 4401 stop
// rule and the 4029 long wait. No DOM: the socket class and the timers are injected, so Node's test
// runner drives it.

/**
 * Exponential backoff with full jitter: a delay drawn uniformly from [0, min(cap, base * 2^attempt)).
 * @param {number} attempt 0 for the first retry
 * @param {{base?: number, cap?: number, random?: () => number}} [options]
 * @returns {number} milliseconds, an integer
 */
export function backoffDelay(attempt, { base = 1000, cap = 30000, random = Math.random } = {}) {
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}

/** Consecutive reconnect attempts: next() grows the delay, reset() after a successful connect. */
export class Backoff {
  /** @param {{base?: number, cap?: number, random?: () => number}} [options] */
  constructor(options = {}) {
    this.options = options;
    this.attempt = 0;
  }

  /** @returns {number} the delay before the next attempt, in milliseconds */
  next() {
    const delay = backoffDelay(this.attempt, this.options);
    // 2^32 is past any cap; stopping there keeps the arithmetic finite.
    this.attempt = Math.min(this.attempt + 1, 32);
    return delay;
  }

  /**
   * The delay after a 4029 close (the user's other devices hold every place): between half the cap
   * and the cap, since a place frees only when one of them closes. Later failures keep backing off.
   * @returns {number} milliseconds, an integer
   */
  crowded() {
    const { cap = 30000, random = Math.random } = this.options;
    this.attempt = 32;
    return Math.floor(cap / 2 + (random() * cap) / 2);
  }

  reset() {
    this.attempt = 0;
  }
}

/**
 * The WebSocket URL for a page location: wss on https, ws otherwise, with `?since=` to resume.
 * @param {{protocol: string, host: string}} location
 * @param {string} path e.g. "/ws/notifications/"
 * @param {number} since
 * @returns {string}
 */
export function socketUrl(location, path, since) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = `since=${Math.max(0, Math.floor(Number(since)) || 0)}`;
  const separator = path.includes("?") ? "&" : "?";
  return `${scheme}//${location.host}${path}${separator}${query}`;
}

/**
 * One WebSocket with reconnects, keep-alive, the 4401 stop rule and the 4029 long wait. Everything it touches is injected,
 * so tests drive it with a fake socket and a fake clock.
 *
 * States reported to onState: "connecting", "open", "closed".
 *
 * A refused handshake looks like a network error to a browser (close 1006, no status). So after a socket
 * that never opened, and before the first connect of start({checkFirst: true}), `checkSession()` (when
 * given) is asked whether the user is still signed in; false stops like a 4401 close.
 */
export class Connection {
  /**
   * @param {{
   *   url: () => string,
   *   onFrame: (frame: any) => void,
   *   onState?: (state: string, info?: {code?: number, final?: boolean, delay?: number}) => void,
   *   WebSocket?: any,
   *   backoff?: Backoff,
   *   pingInterval?: number,
   *   pongTimeout?: number,
   *   timers?: {setTimeout: Function, clearTimeout: Function},
   *   checkSession?: () => Promise<boolean>,
   * }} options
   */
  constructor({
    url,
    onFrame,
    onState = () => {},
    WebSocket = globalThis.WebSocket,
    backoff = new Backoff(),
    pingInterval = 25000,
    pongTimeout = 10000,
    timers = globalThis,
    checkSession = null,
  }) {
    this.url = url;
    this.onFrame = onFrame;
    this.onState = onState;
    this.WebSocketImpl = WebSocket;
    this.backoff = backoff;
    this.pingInterval = pingInterval;
    this.pongTimeout = pongTimeout;
    this.timers = timers;
    this.checkSession = checkSession;
    this.opened = false;
    this.socket = null;
    this.state = "closed";
    this.stopped = true;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
  }

  get isOpen() {
    return this.state === "open";
  }

  /**
   * Opens the socket (and keeps it open) until stop() or a 4401 close.
   * @param {{checkFirst?: boolean}} [options] checkFirst: ask checkSession() before the first connect
   */
  start({ checkFirst = false } = {}) {
    if (!this.stopped) return;
    this.stopped = false;
    if (checkFirst) this.reconnect(true);
    else this.connect();
  }

  /** Closes the socket for good. */
  stop() {
    this.stopped = true;
    this.clearTimer("retryTimer");
    this.drop(1000);
  }

  /** If a reconnect is scheduled, try now (the browser came back online). */
  reconnectNow() {
    if (this.stopped || this.retryTimer === null) return;
    this.clearTimer("retryTimer");
    this.reconnect(!this.opened);
  }

  /**
   * Connects, first asking checkSession() when `check` is true.
   * @param {boolean} check
   */
  async reconnect(check) {
    if (check && this.checkSession) {
      let signedIn = true;
      try {
        signedIn = await this.checkSession();
      } catch {
        // unknown (offline): keep trying
      }
      if (this.stopped) return;
      if (!signedIn) {
        this.stopped = true;
        this.setState("closed", { code: 4401, final: true });
        return;
      }
    }
    if (!this.stopped) this.connect();
  }

  /**
   * Sends a client frame if the socket is open.
   * @param {object} frame
   * @returns {boolean} whether it was sent
   */
  send(frame) {
    if (!this.isOpen || !this.socket) return false;
    try {
      this.socket.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  connect() {
    this.opened = false;
    this.setState("connecting");
    let socket;
    try {
      socket = new this.WebSocketImpl(this.url());
    } catch {
      this.closed({ code: 1006 });
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.opened = true;
      this.setState("open");
      this.schedulePing();
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!frame || typeof frame !== "object") return;
      if (frame.type === "pong") {
        this.clearTimer("pongTimer");
        return;
      }
      if (frame.type === "welcome") this.backoff.reset();
      this.onFrame(frame);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.closed(event);
    };
    socket.onerror = () => {};
  }

  /** @param {{code?: number}} event */
  closed(event) {
    this.socket = null;
    this.clearTimer("pingTimer");
    this.clearTimer("pongTimer");
    const code = event?.code;
    if (code === 4401) this.stopped = true;
    if (this.stopped) {
      this.setState("closed", { code, final: true });
      return;
    }
    const delay = code === 4029 ? this.backoff.crowded() : this.backoff.next();
    this.setState("closed", { code, final: false, delay });
    const check = !this.opened;
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) this.reconnect(check);
    }, delay);
  }

  schedulePing() {
    this.clearTimer("pingTimer");
    this.pingTimer = this.timers.setTimeout(() => {
      this.pingTimer = null;
      if (!this.send({ type: "ping" })) return;
      this.clearTimer("pongTimer");
      // No pong in time: the connection is dead even if the browser has not noticed yet.
      this.pongTimer = this.timers.setTimeout(() => {
        this.pongTimer = null;
        this.drop(4000);
      }, this.pongTimeout);
      this.schedulePing();
    }, this.pingInterval);
  }

  /**
   * Closes the current socket now and handles it as closed (reconnecting unless stopped).
   * @param {number} code
   */
  drop(code) {
    const socket = this.socket;
    if (!socket) {
      if (this.stopped && this.state !== "closed") this.setState("closed", { final: true });
      return;
    }
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    try {
      socket.close(code === 1000 ? 1000 : 4000);
    } catch {
      // already closing
    }
    this.closed({ code });
  }

  /** @param {"retryTimer" | "pingTimer" | "pongTimer"} name */
  clearTimer(name) {
    if (this[name] !== null) {
      this.timers.clearTimeout(this[name]);
      this[name] = null;
    }
  }

  /**
   * @param {string} state
   * @param {object} [info]
   */
  setState(state, info = {}) {
    this.state = state;
    this.onState(state, info);
  }
}
