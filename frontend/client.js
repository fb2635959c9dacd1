// The client's capture page: camera after consent, "analysis on" indicator, one-click Stop.
import { LiveSocket, csrfFetch, socketUrl } from "./stream.js";

const root = document.getElementById("capture");
const video = document.getElementById("preview");
const indicator = document.getElementById("indicator");
const stateText = document.getElementById("capture-state");
const startButton = document.getElementById("start-camera");
const stopForm = document.getElementById("stop-form");
const done = document.getElementById("done");
const t = JSON.parse(document.getElementById("capture-text").textContent);

let stream = null;
const socket = new LiveSocket({
  url: socketUrl(root.dataset.wsPath),
  fps: Number(root.dataset.fps) || 2,
  onState: (state, code) => {
    if (state === "open") show(t.on, true);
    else if (state === "reconnecting") show(t.reconnecting, true);
    else if (state === "closed") finish(code);
  },
  onMessage: (msg) => {
    if (msg.t === "ended") finish(4012, msg.feedback_url);
  },
});
window.mimicCapture = socket; // for diagnostics (counters) in the browser console and tests

function show(text, on) {
  stateText.textContent = text;
  indicator.hidden = !on;
}

function stopCamera() {
  socket.stopCapture();
  if (stream) stream.getTracks().forEach((track) => track.stop());
  stream = null;
  video.srcObject = null;
}

function finish(code, feedbackUrl) {
  stopCamera();
  socket.close();
  root.hidden = true;
  done.hidden = false;
  const message = code === 4011 ? t.withdrawn : code === 4012 ? t.ended : t.stopped;
  done.querySelector("[data-message]").textContent = message;
  const link = done.querySelector("[data-feedback]");
  if (feedbackUrl) {
    link.href = feedbackUrl;
    link.hidden = false;
  }
}

async function startCamera() {
  startButton.hidden = true;
  show(t.asking, false);
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" },
      audio: false,
    });
  } catch {
    show(t.denied, false);
    startButton.hidden = false;
    return;
  }
  video.srcObject = stream;
  await video.play().catch(() => {});
  socket.startCapture(video);
}

startButton.addEventListener("click", startCamera);
stopForm.addEventListener("submit", async (event) => {
  // Stopping is one click: the camera stops here at once, then the server deletes the data.
  event.preventDefault();
  stopCamera();
  show(t.stopping, false);
  try {
    await csrfFetch(stopForm);
  } finally {
    finish(4011);
  }
});

socket.connect();
startCamera();
