// What the manager shows on the client's page during the call (an investment illustration).
// The page reports when it is on screen and when it leaves (closed, hidden tab, page left), so the call's
// timeline marks the interval; only those moments are sent, nothing else.
const box = document.getElementById("shown");
let current = null; // the "show" message on screen
let looking = false;

function look(state, beacon = false) {
  if (!current || looking === (state === "start")) return;
  looking = state === "start";
  const body = JSON.stringify({ state });
  if (beacon && navigator.sendBeacon) {
    navigator.sendBeacon(current.look, new Blob([body], { type: "text/plain" }));
    return;
  }
  fetch(current.look, {
    method: "POST",
    body,
    keepalive: state === "stop", // only where the page may be going away; sendBeacon covers that when available
    credentials: "omit",
    headers: { "Content-Type": "text/plain" },
  })
    .then((response) => response.text()) // read to the end, or the request is never finished for the browser
    .catch(() => {});
}

function hide(beacon = false) {
  look("stop", beacon);
  current = null;
  if (box) box.hidden = true;
}

function show(msg) {
  if (current && current.look !== msg.look) hide();
  current = msg;
  box.querySelector("[data-title]").textContent = msg.title;
  box.querySelector("[data-narrow]").srcset = msg.svg_narrow;
  box.querySelector("[data-picture]").src = msg.svg;
  box.querySelector("[data-picture]").alt = msg.title;
  box.querySelector("[data-open]").href = msg.url;
  box.hidden = false;
  box.scrollIntoView({ behavior: "smooth", block: "start" });
  if (document.visibilityState !== "hidden") look("start");
}

export function handleShown(msg) {
  if (!box) return;
  if (msg.t === "show") show(msg);
  else if (msg.t === "hide") hide();
}

if (box) {
  box.querySelector("[data-close]").addEventListener("click", () => hide());
  document.addEventListener("visibilitychange", () => look(document.visibilityState === "hidden" ? "stop" : "start", true));
  window.addEventListener("pagehide", () => look("stop", true));
}
