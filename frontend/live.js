// The manager's live page (a tab or an iframe in Dion): expression, valence gauge, timeline strip,
// face indicator, negative-mood alert; End call; "client withdrew consent"; and the fallback
// capture of the Dion window (getDisplayMedia + a rectangle over the client's tile).
import { LiveSocket, csrfFetch, socketUrl } from "./stream.js";

const root = document.getElementById("live");
// Flags of a face that is there but too poor to read (the engine's POOR_VIEW_FLAGS).
const poorViewFlags = (root.dataset.poorViewFlags || "").split(" ");
const t = JSON.parse(document.getElementById("live-text").textContent);
const $ = (id) => document.getElementById(id);
const expression = $("expression");
const gaugeMarker = $("gauge-marker");
const face = $("face");
const alertBox = $("alert");
const consentState = $("consent-state");
const statusLine = $("status-line");
const timeline = $("timeline");
const dropped = $("dropped");
const TIMELINE_MS = 5 * 60 * 1000;
const STALE_MS = 10000; // no score for this long: the client's frames stopped coming
const samples = []; // [offset_ms, face_found, valence]
let droppedCount = 0;

// What the status line says follows from this state alone (statusFor); times are Date.now() ms.
const view = {
  connection: "connecting", // connecting | open | reconnecting | closed
  closeCode: null,
  paused: false,
  firstScoreAt: 0,
  lastScoreAt: 0,
  lastFaceAt: 0, // the last score with a face
  faceFound: false,
  poorView: false, // a face is there but too poor to read: the engine gives no reading
  ended: false,
  finished: false, // the page shows its final state (report link, or withdrawn)
};

const seconds = (ms) => String(Math.max(1, Math.round(ms / 1000)));

// [state, text] of the status line: the initial waiting text only until the first score arrives.
function statusFor(v, now, texts) {
  if (v.ended) return ["ended", texts.preparing];
  if (v.connection === "reconnecting") return ["reconnecting", texts.reconnecting];
  if (v.connection === "closed") return ["closed", `${texts.disconnected} (${v.closeCode})`];
  if (v.paused) return ["paused", texts.paused];
  if (v.connection === "connecting") return ["connecting", texts.connecting];
  if (!v.lastScoreAt) return ["waiting", texts.connected];
  if (now - v.lastScoreAt > STALE_MS) return ["no-frames", texts.no_frames.replace("{n}", seconds(now - v.lastScoreAt))];
  if (v.faceFound) return ["analysing", texts.analysing];
  if (v.poorView) return ["poor-view", texts.poor_view];
  return ["no-face", texts.no_face.replace("{n}", seconds(now - (v.lastFaceAt || v.firstScoreAt)))];
}

function showStatus() {
  if (view.finished) return;
  const [state, text] = statusFor(view, Date.now(), t);
  statusLine.dataset.state = state;
  statusLine.textContent = text;
}

const socket = new LiveSocket({
  url: socketUrl(root.dataset.wsPath),
  fps: Number(root.dataset.fps) || 2,
  onState: (state, code) => {
    view.connection = state;
    view.closeCode = code ?? null;
    if (state === "reconnecting" || state === "closed") showPaused(null); // the next hello tells again
    if (state === "closed" && !view.finished) {
      if (code === 4011) showWithdrawn();
      else if (code === 4012) location.reload(); // ended while away: the server's page has the report link
    }
    showStatus();
  },
  onMessage: handle,
});
window.mimicLive = socket;

function handle(msg) {
  switch (msg.t) {
    case "hello":
      setConsent(msg.consent ? "given" : "waiting");
      samples.length = 0;
      for (const [offset, found, , valence] of msg.history || []) samples.push([offset, found, valence]);
      drawTimeline();
      break;
    case "score":
      root.dataset.scores = String(Number(root.dataset.scores || 0) + 1);
      showScore(msg);
      break;
    case "drop":
      if (msg.stage) countDropped(1);
      break;
    case "drops": // frames the client's socket dropped while analysis was paused
      countDropped(msg.count || 0);
      break;
    case "paused":
      showPaused(msg.services || []);
      break;
    case "resumed":
      showPaused(null);
      break;
    case "consent":
      setConsent(msg.state);
      if (msg.state === "withdrawn") showWithdrawn();
      break;
    case "ended":
      showEnded();
      break;
    case "report":
      showEnded();
      finish(msg.url, t.ended);
      break;
  }
  showStatus();
}

function countDropped(n) {
  droppedCount += n;
  dropped.textContent = `${t.dropped}: ${droppedCount}`;
}

// Redis or the database is down (services: ["redis"], ["database"]); null when it is back.
function showPaused(services) {
  const banner = $("paused");
  banner.hidden = !services;
  banner.dataset.services = services ? services.join(",") : "";
  view.paused = Boolean(services);
}

function setConsent(state) {
  if (state === "given" && consentState.dataset.state !== "given") {
    // The client is in: the link and Dion cards fold to one line each, the live panel moves up.
    for (const card of [$("link-card"), $("dion-card")]) if (card) card.open = false;
  }
  consentState.textContent = t[`consent_${state}`] || state;
  consentState.dataset.state = state;
  $("capture-window").disabled = state !== "given";
}

function showScore(msg) {
  const now = Date.now();
  view.lastScoreAt = now;
  view.firstScoreAt ||= now;
  view.faceFound = Boolean(msg.face_found);
  view.poorView = !msg.face_found && (msg.flags || []).some((f) => poorViewFlags.includes(f));
  if (msg.face_found) view.lastFaceAt = now;
  face.dataset.visible = msg.face_found ? "yes" : view.poorView ? "poor" : "no";
  face.textContent = msg.face_found ? t.face_visible : view.poorView ? t.face_poor : t.face_hidden;
  if (msg.smoothed_label) {
    expression.textContent = t.labels[msg.smoothed_label] || msg.smoothed_label;
    expression.dataset.label = msg.smoothed_label;
  }
  if (msg.valence_score !== null && msg.valence_score !== undefined) {
    // -1 .. 1 -> 0 .. 100 % along the gauge (set through CSSOM: the CSP forbids style attributes).
    gaugeMarker.style.left = `${((msg.valence_score + 1) / 2) * 100}%`;
    gaugeMarker.dataset.score = String(msg.valence_score);
  }
  alertBox.hidden = !msg.alert;
  samples.push([msg.offset_ms, msg.face_found, msg.valence]);
  drawTimeline();
}

const COLORS = { positive: "#1e8449", neutral: "#95a5a6", negative: "#c0392b" };

function drawTimeline() {
  const ctx = timeline.getContext("2d");
  const width = (timeline.width = timeline.clientWidth || 600);
  const height = timeline.height;
  ctx.clearRect(0, 0, width, height);
  if (!samples.length) return;
  const newest = samples[samples.length - 1][0];
  while (samples.length && samples[0][0] < newest - TIMELINE_MS) samples.shift();
  const x = (offset) => width - ((newest - offset) / TIMELINE_MS) * width;
  const bar = Math.max(2, width / (TIMELINE_MS / 500));
  for (const [offset, found, valence] of samples) {
    ctx.fillStyle = found ? COLORS[valence] || COLORS.neutral : "#dde3ea";
    ctx.fillRect(x(offset) - bar, found ? 0 : height / 3, bar, found ? height : height / 3);
  }
}

// The call is over (End here, the idle timeout or Dion): the badge says so, the client link and the Dion
// form go, and the page waits for the report's link (the socket stays open for it).
function showEnded() {
  if (view.ended) return;
  view.ended = true;
  stopWindowCapture();
  const badge = $("call-status");
  badge.textContent = t.status_ended;
  badge.className = "status status-ended";
  badge.dataset.status = "ended";
  for (const id of ["link-card", "dion-card"]) $(id)?.remove();
  $("live-panel").hidden = true;
  const done = $("done");
  done.hidden = false;
  done.dataset.state = "preparing";
  done.querySelector("[data-message]").textContent = t.preparing;
}

// The client withdrew (here or on the client's page): the data is deleted, so no report link, ever.
function showWithdrawn() {
  showEnded();
  finish(null, t.withdrawn, "withdrawn");
}

function finish(url, text, state = "ended") {
  if (view.finished) return;
  view.finished = true;
  socket.close();
  const done = $("done");
  done.dataset.state = state;
  done.querySelector("[data-message]").textContent = text;
  const link = done.querySelector("[data-report]");
  if (url) {
    link.href = url;
    link.hidden = false;
  }
  statusLine.textContent = "";
}

// --- buttons ---------------------------------------------------------------------------------
async function post(form) {
  try {
    const response = await csrfFetch(form);
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}

$("end-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!window.confirm(t.confirm_end)) return;
  const button = event.target.querySelector("button");
  button.disabled = true;
  const answer = await post(event.target);
  if (answer) {
    showEnded(); // already ended elsewhere is ended too; the report link comes over the socket
    showStatus();
  } else {
    button.disabled = false;
    statusLine.dataset.state = "end-failed";
    statusLine.textContent = t.end_failed;
  }
});
$("withdraw-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!window.confirm(t.confirm_withdraw)) return;
  const answer = await post(event.target);
  if (answer && answer.withdrawn) showWithdrawn();
});
$("copy-link").addEventListener("click", async (event) => {
  event.preventDefault(); // a button in a <summary>: copy, do not unfold the card
  const input = $("client-link");
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    input.select();
    document.execCommand("copy");
  }
  $("copy-link").textContent = t.copied;
});

// --- fallback: capture the Dion window, only the client's tile -------------------------------
const windowVideo = document.createElement("video");
windowVideo.muted = true;
const picker = $("picker");
let displayStream = null;
let rect = null; // in video pixels
let dragFrom = null;

function stopWindowCapture() {
  socket.stopCapture();
  if (displayStream) displayStream.getTracks().forEach((track) => track.stop());
  displayStream = null;
  $("picker-box").hidden = true;
}

function pickerToVideo(event) {
  const box = picker.getBoundingClientRect();
  return {
    x: ((event.clientX - box.left) / box.width) * windowVideo.videoWidth,
    y: ((event.clientY - box.top) / box.height) * windowVideo.videoHeight,
  };
}

function drawPicker() {
  if (!displayStream) return;
  const ctx = picker.getContext("2d");
  picker.width = windowVideo.videoWidth;
  picker.height = windowVideo.videoHeight;
  ctx.drawImage(windowVideo, 0, 0);
  if (rect) {
    ctx.strokeStyle = "#0b6e4f";
    ctx.lineWidth = Math.max(2, picker.width / 300);
    ctx.strokeRect(rect.x, rect.y, rect.w, rect.h);
  }
  setTimeout(() => requestAnimationFrame(drawPicker), 500);
}

$("capture-window").addEventListener("click", async () => {
  try {
    displayStream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 5 }, audio: false });
  } catch {
    return;
  }
  windowVideo.srcObject = displayStream;
  await windowVideo.play().catch(() => {});
  displayStream.getVideoTracks()[0].addEventListener("ended", stopWindowCapture);
  $("picker-box").hidden = false;
  drawPicker();
});
picker.addEventListener("pointerdown", (event) => {
  dragFrom = pickerToVideo(event);
  picker.setPointerCapture(event.pointerId);
});
picker.addEventListener("pointermove", (event) => {
  if (!dragFrom) return;
  const to = pickerToVideo(event);
  rect = {
    x: Math.round(Math.min(dragFrom.x, to.x)),
    y: Math.round(Math.min(dragFrom.y, to.y)),
    w: Math.round(Math.abs(to.x - dragFrom.x)),
    h: Math.round(Math.abs(to.y - dragFrom.y)),
  };
});
picker.addEventListener("pointerup", () => {
  dragFrom = null;
  // Only the selected tile is ever sent; the rest of the screen (the manager's own face) never leaves.
  if (rect && rect.w >= 32 && rect.h >= 32) socket.startCapture(windowVideo, () => rect);
});
$("stop-window").addEventListener("click", stopWindowCapture);

// Seconds without a face (or without frames) count up while the manager watches.
setInterval(() => {
  if (view.lastScoreAt && Date.now() - view.lastScoreAt > STALE_MS) face.dataset.visible = "stale";
  showStatus();
}, 1000);

socket.connect();
