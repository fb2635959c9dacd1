// The client's capture page: camera after consent, "analysis on" indicator, one-click Stop.
import { LiveSocket, csrfFetch, socketUrl } from "./stream.js";
import { handleShown } from "./shown.js"; // what the manager shows during the call (an illustration)

const root = document.getElementById("capture");
const video = document.getElementById("preview");
const indicator = document.getElementById("indicator");
const stateText = document.getElementById("capture-state");
const startButton = document.getElementById("start-camera");
const stopForm = document.getElementById("stop-form");
const done = document.getElementById("done");
const t = JSON.parse(document.getElementById("capture-text").textContent);

let stream = null;
// One indicator says "analysis on" while the camera streams; the line beside it says only what else is
// happening (asking for the camera, reconnecting), and is empty while all is well.
let camera = "asking"; // asking | on | denied | stopped
let connection = "connecting"; // connecting | open | reconnecting
function render() {
  indicator.hidden = camera !== "on";
  video.hidden = camera === "denied"; // no black box where there will be no picture
  startButton.hidden = camera !== "denied";
  let text = "";
  if (camera === "asking") text = t.asking;
  else if (camera === "denied") text = t.denied;
  else if (camera === "stopped") text = t.stopping;
  else if (connection === "reconnecting") text = t.reconnecting;
  else if (connection === "connecting") text = t.starting;
  stateText.textContent = text;
  stateText.hidden = text === "";
}

const socket = new LiveSocket({
  url: socketUrl(root.dataset.wsPath),
  fps: Number(root.dataset.fps) || 2,
  onState: (state, code) => {
    if (state === "closed") finish(code);
    else {
      // A reconnect's new attempt ("connecting" again) still reads as reconnecting.
      connection = state === "connecting" && connection !== "connecting" ? "reconnecting" : state;
      render();
    }
  },
  onMessage: (msg) => {
    if (msg.t === "ended") finish(4012, msg.feedback_url);
    if (msg.t === "show" || msg.t === "hide") handleShown(msg);
  },
});
window.mimicCapture = socket; // for diagnostics (counters) in the browser console and tests

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
  camera = "asking";
  render();
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" },
      audio: false,
    });
  } catch {
    camera = "denied";
    render();
    return;
  }
  video.srcObject = stream;
  await video.play().catch(() => {});
  socket.startCapture(video);
  camera = "on";
  render();
}

startButton.addEventListener("click", startCamera);
stopForm.addEventListener("submit", async (event) => {
  // Stopping is one click: the camera stops here at once, then the server deletes the data.
  event.preventDefault();
  stopCamera();
  camera = "stopped";
  render();
  try {
    await csrfFetch(stopForm);
  } finally {
    finish(4011);
  }
});

socket.connect();
startCamera();
