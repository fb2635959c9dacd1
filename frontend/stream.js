// The live-call socket: reconnects with exponential backoff and, when given a video source,
// streams downsampled JPEG frames in the binary format of calls/protocol.py:
//   uint32 seq (big-endian) | uint64 capture ms (big-endian, Date.now()) | JPEG bytes
// Every frame gets one reply ({t:"ack"} or {t:"drop"}); frames without a reply are kept and
// resent after a reconnect, so nothing sent is lost and the server stores each seq once; a restarted
// server (daphne) is just another reconnect: the same seqs go again, the counter goes on.
// While the server reports "paused" (Redis or the database down) frames are counted and not sent.

export const FINAL_CLOSE_CODES = new Set([4001, 4003, 4004, 4009, 4010, 4011, 4012, 4400, 4422, 4429]);
const HEADER_BYTES = 12;

export function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

export class LiveSocket {
  constructor({ url, fps = 2, maxUnacked = 8, longSide = 320, quality = 0.7, onMessage, onState }) {
    this.url = url;
    this.fps = Math.max(1, Math.min(5, fps));
    this.maxUnacked = maxUnacked;
    this.longSide = longSide;
    this.quality = quality;
    this.onMessage = onMessage || (() => {});
    this.onState = onState || (() => {});
    this.nextSeq = 0;
    this.unacked = new Map(); // seq -> message bytes, until the server replies
    this.counters = { captured: 0, sent: 0, acked: 0, resent: 0, droppedBackpressure: 0, droppedPaused: 0, droppedServer: {} };
    this.paused = false; // the server said Redis or the database is down: frames would only be dropped
    this.attempt = 0;
    this.closedFor = null; // a final close code: never reconnect
    this.source = null;
    this.crop = null;
    this.timer = null;
    this.encoding = false;
    this.canvas = document.createElement("canvas");
  }

  connect() {
    if (this.closedFor !== null) return;
    this.onState("connecting");
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.addEventListener("open", () => {
      ws.send(JSON.stringify({ t: "hello", now: Date.now() }));
      // Resume: everything not yet answered goes again, oldest first, under the same seq.
      for (const seq of [...this.unacked.keys()].sort((a, b) => a - b)) {
        ws.send(this.unacked.get(seq));
        this.counters.resent += 1;
      }
      this.onState("open");
    });
    ws.addEventListener("message", (event) => this.receive(event.data));
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      if (FINAL_CLOSE_CODES.has(event.code) || this.closedFor === 0) {
        this.closedFor = event.code;
        this.stopCapture();
        this.onState("closed", event.code);
        return;
      }
      const delay = Math.min(10000, 500 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
      this.attempt += 1;
      this.onState("reconnecting", event.code);
      setTimeout(() => this.connect(), delay);
    });
  }

  receive(data) {
    if (typeof data !== "string") return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg.t === "paused") {
      this.paused = true;
    } else if (msg.t === "resumed") {
      this.paused = false;
    } else if (msg.t === "hello") {
      this.attempt = 0;
      this.paused = false;
      // A reloaded page continues after what the server stored; an ongoing one keeps its own counter.
      this.nextSeq = Math.max(this.nextSeq, msg.next_seq || 0);
    } else if (msg.t === "ack" && this.unacked.delete(msg.seq)) {
      this.counters.acked += 1;
    } else if (msg.t === "drop" && !msg.stage) {
      this.unacked.delete(msg.seq);
      this.counters.droppedServer[msg.reason] = (this.counters.droppedServer[msg.reason] || 0) + 1;
    }
    this.onMessage(msg);
  }

  close() {
    this.closedFor = 0;
    this.stopCapture();
    if (this.ws) this.ws.close(1000);
  }

  // --- capture --------------------------------------------------------------------------------
  // source: a playing <video>; crop(): {x, y, w, h} in video pixels, or null for the whole picture.
  startCapture(source, crop = null) {
    this.source = source;
    this.crop = crop;
    this.stopCapture();
    this.timer = setInterval(() => this.tick(), 1000 / this.fps);
  }

  stopCapture() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  get capturing() {
    return this.timer !== null;
  }

  tick() {
    const video = this.source;
    if (!video || video.readyState < 2 || !video.videoWidth) return;
    if (this.paused) {
      // Analysis paused on the server: not even encoded; counted, never silently lost.
      this.counters.droppedPaused += 1;
      return;
    }
    if (this.unacked.size >= this.maxUnacked || this.encoding) {
      // Backpressure: the newest frame is the one not taken; counted, never silently lost.
      this.counters.droppedBackpressure += 1;
      return;
    }
    const region = (this.crop && this.crop()) || { x: 0, y: 0, w: video.videoWidth, h: video.videoHeight };
    if (region.w < 8 || region.h < 8) return;
    const scale = Math.min(1, this.longSide / Math.max(region.w, region.h));
    const width = Math.max(1, Math.round(region.w * scale));
    const height = Math.max(1, Math.round(region.h * scale));
    this.canvas.width = width;
    this.canvas.height = height;
    this.canvas.getContext("2d").drawImage(video, region.x, region.y, region.w, region.h, 0, 0, width, height);
    const seq = this.nextSeq++;
    const capturedAt = Date.now();
    this.encoding = true;
    this.canvas.toBlob(
      async (blob) => {
        this.encoding = false;
        if (!blob) return;
        const jpeg = new Uint8Array(await blob.arrayBuffer());
        const message = new Uint8Array(HEADER_BYTES + jpeg.length);
        const view = new DataView(message.buffer);
        view.setUint32(0, seq);
        view.setBigUint64(4, BigInt(capturedAt));
        message.set(jpeg, HEADER_BYTES);
        this.unacked.set(seq, message.buffer);
        this.counters.captured += 1;
        if (this.ws && this.ws.readyState === WebSocket.OPEN) {
          this.ws.send(message.buffer);
          this.counters.sent += 1;
        }
      },
      "image/jpeg",
      this.quality,
    );
  }
}

export function csrfFetch(form) {
  return fetch(form.action, {
    method: "POST",
    body: new FormData(form),
    headers: { Accept: "application/json" },
    credentials: "same-origin",
  });
}
