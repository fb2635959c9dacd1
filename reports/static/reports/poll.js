// Polls a small JSON endpoint until a job is finished; no framework, no CDN.
(function () {
  "use strict";
  function poll(box) {
    var url = box.dataset.statusUrl;
    var bar = box.querySelector("[data-bar]");
    var label = box.querySelector("[data-label]");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        if (bar && typeof data.progress === "number") {
          var pct = Math.round(data.progress * 100);
          bar.value = pct;
          if (label) label.textContent = pct + " %";
        }
        var link = box.querySelector("[data-ready]");
        if (data.status === "ready" && link) {
          link.href = data.url;
          link.hidden = false;
          box.querySelector("[data-waiting]").hidden = true;
          return;
        }
        if (data.status === "done" || data.status === "ready" || data.status === "failed") {
          window.location.reload();
          return;
        }
        setTimeout(function () { poll(box); }, 1000);
      })
      .catch(function () { setTimeout(function () { poll(box); }, 3000); });
  }
  document.querySelectorAll("[data-status-url]").forEach(poll);
})();
