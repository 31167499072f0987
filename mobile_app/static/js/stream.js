// The event WebSocket: frames in order, resumed with ?since= after any break, so nothing
// shown is stale. The browser closes a background page's socket; on return to the
// foreground, or when the network comes back, the stream reconnects at once.

const CLOSE_SESSION_ENDED = 4001;
const CLOSE_REPLACED = 4002;
const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];

export class EventStream {
  // onFrame(frame), onStatus("connecting" | "open" | "reconnecting"), onClosed(code, reason)
  constructor({ token, since = 0, onFrame, onStatus, onClosed, url = null }) {
    this.token = token;
    this.since = since;
    this.onFrame = onFrame;
    this.onStatus = onStatus;
    this.onClosed = onClosed;
    this.url = url || `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/events`;
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.wake = () => {
      if (document.visibilityState === "visible") this.reconnectNow();
    };
    document.addEventListener("visibilitychange", this.wake);
    window.addEventListener("online", this.wake);
    window.addEventListener("pageshow", this.wake);
  }

  start() {
    this.connect(false);
  }

  connect(reconnecting) {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    this.onStatus(reconnecting ? "reconnecting" : "connecting");
    const query = this.since ? `?since=${this.since}` : "";
    // Browsers cannot set headers on a WebSocket: the token rides as a subprotocol.
    const socket = new WebSocket(this.url + query, ["bearer", this.token]);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.onStatus("open");
    };
    socket.onmessage = (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return; // the connector sends JSON only; a broken frame is not ours to guess at
      }
      if (typeof frame.seq === "number") this.since = Math.max(this.since, frame.seq);
      this.onFrame(frame);
    };
    socket.onclose = (event) => {
      if (socket !== this.socket) return; // an older socket we replaced ourselves
      this.socket = null;
      if (this.stopped) return;
      if (event.code === CLOSE_SESSION_ENDED || event.code === CLOSE_REPLACED) {
        this.stop();
        this.onClosed(event.code, event.reason);
        return;
      }
      this.onStatus("reconnecting");
      this.onClosed(event.code, event.reason);
      if (!this.stopped) this.schedule();
    };
  }

  schedule() {
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    const jitter = Math.random() * delay * 0.2;
    this.timer = setTimeout(() => this.connect(true), delay + jitter);
  }

  // Back in the foreground or online again: do not wait out the backoff.
  reconnectNow() {
    if (this.stopped) return;
    const open = this.socket && this.socket.readyState <= WebSocket.OPEN;
    if (open) return;
    this.attempt = 0;
    this.connect(true);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    document.removeEventListener("visibilitychange", this.wake);
    window.removeEventListener("online", this.wake);
    window.removeEventListener("pageshow", this.wake);
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, "signed out");
  }
}
