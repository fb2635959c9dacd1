/* Illustrations: presets on the form; slider, details and pilot events on the client's page.
   Plain JS, no dependencies. Without it the form still works and the page shows the static picture. */
(function () {
  "use strict";

  // --- The form: preset buttons fill the first empty product row.
  var presets = document.querySelector(".ill-presets");
  if (presets) {
    presets.hidden = false;
    presets.addEventListener("click", function (event) {
      var button = event.target.closest(".ill-preset");
      if (!button) return;
      var rows = document.querySelectorAll(".ill-product");
      for (var i = 0; i < rows.length; i++) {
        var name = rows[i].querySelector("input[name$='-name']");
        var rate = rows[i].querySelector("input[name$='-rate_pct']");
        if (name && !name.value.trim() && rate && !rate.value.trim()) {
          name.value = button.dataset.name;
          rate.value = button.dataset.rate;
          rows[i].querySelector("select[name$='-compounding']").value = button.dataset.compounding;
          rows[i].querySelector("select[name$='-risk']").value = button.dataset.risk;
          rate.focus();
          return;
        }
      }
    });
  }

  // --- Copy buttons next to share links: the clipboard API where the page is a secure context,
  // otherwise the selected text and execCommand (plain HTTP on an intranet has no clipboard API).
  function copyText(input) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(input.value).then(function () { return true; }, function () { return legacyCopy(input); });
    }
    return Promise.resolve(legacyCopy(input));
  }
  function legacyCopy(input) {
    input.focus();
    input.select();
    input.setSelectionRange(0, input.value.length);
    try { return document.execCommand("copy"); } catch (e) { return false; }
  }
  document.querySelectorAll(".ill-copy").forEach(function (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var input = document.getElementById(button.dataset.copy);
      var state = button.parentNode.querySelector(".ill-copy-state");
      if (!input) return;
      copyText(input).then(function (ok) {
        if (state) state.textContent = ok ? button.dataset.copied : button.dataset.failed;
        if (!ok) input.select();
      });
    });
  });

  // --- The client's page.
  var island = document.getElementById("ill-data");
  var figure = document.getElementById("ill-figure");
  if (!island || !figure) return;
  var data = JSON.parse(island.textContent);
  var csrf = document.querySelector("input[name=csrfmiddlewaretoken]");
  var slider = document.getElementById("ill-year");
  var output = document.getElementById("ill-year-out");
  var details = document.getElementById("ill-details");
  var trees = figure.querySelectorAll(".ill-tree");
  var year = data.years;
  var active = null;
  var sent = {};

  function send(kind, extra) {
    var body = { view: data.view, kind: kind };
    if (extra) for (var key in extra) body[key] = extra[key];
    // The page is served with Referrer-Policy: no-referrer, which would make the browser send
    // "Origin: null" and fail Django's CSRF origin check; this request only sends our own origin.
    return fetch(data.eventUrl, {
      method: "POST",
      credentials: "same-origin",
      referrerPolicy: "strict-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf ? csrf.value : "" },
      body: JSON.stringify(body)
    });
  }

  function once(kind) {
    if (sent[kind]) return;
    sent[kind] = true;
    send(kind).catch(function () { sent[kind] = false; });
  }

  function scaleOf(shape) {
    var match = /scale\(1[ ,]+([-\d.e]+)\)/.exec(shape.getAttribute("transform") || "");
    return match ? parseFloat(match[1]) : 1;
  }

  function setScale(shape, value) {
    var t = shape.getAttribute("transform").replace(/scale\([^)]*\)/, "scale(1 " + value.toFixed(5) + ")");
    shape.setAttribute("transform", t);
  }

  var animation = null;
  var shownYear = data.years;
  function showYear(target) {
    year = target;
    var frame = data.frames[year];
    output.textContent = data.yearsText[year];
    // Both layouts (wide and narrow) are in the page; each tree knows its product and its layout.
    figure.querySelectorAll(".ill-caption tspan").forEach(function (span) {
      span.textContent = span.textContent.replace(data.yearsText[shownYear], data.yearsText[year]);
    });
    shownYear = year;
    var starts = [], ends = [], shapes = [];
    trees.forEach(function (tree) {
      var i = parseInt(tree.dataset.index, 10);
      var key = tree.closest("svg").dataset.layout === "narrow" ? "_n" : "";
      var caption = frame[i];
      var shape = tree.querySelector(".ill-shape");
      shapes.push(shape);
      starts.push(scaleOf(shape));
      ends.push(caption["scale" + key]);
      var label = tree.querySelector(".ill-rate-label");
      var inside = caption["label_in" + key];
      label.setAttribute("y", caption["label_y" + key]);
      label.setAttribute("fill", inside ? "#ffffff" : "#1d2733");
      label.setAttribute("stroke", inside ? data.products[i].stroke : "none");
      var value = tree.querySelector(".ill-value");
      value.textContent = caption.value;
      value.setAttribute("font-size", caption.value_size);
      var gain = tree.querySelector(".ill-gain");
      gain.textContent = caption.gain;
      gain.setAttribute("font-size", caption.gain_size);
      var pct = tree.querySelector(".ill-gain-pct");
      pct.textContent = caption.gain_pct;
      var colour = caption.tone === "pos" ? "#1e8449" : caption.tone === "neg" ? "#c0392b" : "#5b6875";
      gain.setAttribute("fill", colour);
      pct.setAttribute("fill", colour);
      var title = tree.querySelector("title");
      if (title) title.textContent = data.products[i].name + ": " + caption.full + " · " + data.yearsText[year];
    });
    if (animation) cancelAnimationFrame(animation);
    var reduce = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    var t0 = performance.now(), duration = reduce ? 0 : 260;
    function step(now) {
      var k = duration ? Math.min(1, (now - t0) / duration) : 1;
      var ease = 1 - Math.pow(1 - k, 3);
      shapes.forEach(function (shape, i) { setScale(shape, starts[i] + (ends[i] - starts[i]) * ease); });
      animation = k < 1 ? requestAnimationFrame(step) : null;
    }
    animation = requestAnimationFrame(step);
    if (active !== null) showDetails(active, false);
  }

  function row(label, value) {
    var dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = label;
    dd.textContent = value;
    return [dt, dd];
  }

  function showDetails(index, record) {
    active = index;
    var product = data.products[index], caption = data.frames[year][index];
    trees.forEach(function (tree) { tree.classList.toggle("is-active", tree.dataset.index === String(index)); });
    details.textContent = "";
    var heading = document.createElement("strong");
    heading.textContent = product.name + " · " + data.yearsText[year];
    var list = document.createElement("dl");
    var labels = data.labels || {};
    [
      [labels.value || "Value", caption.full],
      [labels.invested || "Paid in", caption.invested],
      [labels.gain || "Gain", caption.gain + " (" + caption.gain_pct + ")"],
      [labels.rate || "Rate", product.rate + " · " + product.compounding],
      [labels.risk || "Risk", product.risk]
    ].forEach(function (pair) { row(pair[0], pair[1]).forEach(function (el) { list.appendChild(el); }); });
    details.appendChild(heading);
    details.appendChild(list);
    details.hidden = false;
    if (record) once("details");
  }

  document.getElementById("ill-controls").hidden = false;
  document.getElementById("ill-feedback").hidden = false;
  output.textContent = data.yearsText[year];
  slider.addEventListener("input", function () {
    showYear(parseInt(slider.value, 10));
    once("slider");
  });
  trees.forEach(function (tree) {
    var i = parseInt(tree.dataset.index, 10);
    tree.addEventListener("mouseenter", function () { showDetails(i, true); });
    tree.addEventListener("focus", function () { showDetails(i, true); });
    tree.addEventListener("click", function () { showDetails(i, true); });
  });

  // While a call with the manager runs, the call's timeline marks when this page is on screen: the server
  // keeps the interval only then (and only the times). Left, hidden or closed: the interval ends.
  var looking = false;
  function look(state, beacon) {
    if (!data.lookUrl || looking === (state === "start")) return;
    looking = state === "start";
    var body = JSON.stringify({ state: state });
    if (beacon && navigator.sendBeacon) {
      navigator.sendBeacon(data.lookUrl, new Blob([body], { type: "text/plain" }));
      return;
    }
    // keepalive only where the page may be going away (a stop); sendBeacon covers that above when available
    fetch(data.lookUrl, { method: "POST", body: body, keepalive: state === "stop", credentials: "omit", headers: { "Content-Type": "text/plain" } })
      .then(function (response) { return response.text(); }) // read to the end, or the request never finishes
      .catch(function () {});
  }
  if (document.visibilityState !== "hidden") look("start");
  document.addEventListener("visibilitychange", function () { look(document.visibilityState === "hidden" ? "stop" : "start", true); });
  window.addEventListener("pagehide", function () { look("stop", true); });

  var thanks = document.getElementById("ill-thanks");
  document.getElementById("ill-understood").addEventListener("click", function (event) {
    event.currentTarget.disabled = true;
    once("understood");
  });
  document.querySelectorAll(".ill-rate").forEach(function (button) {
    button.addEventListener("click", function () {
      document.querySelectorAll(".ill-rate").forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
      send("rating", { rating: parseInt(button.dataset.rating, 10) }).then(function (response) {
        if (response.ok) thanks.hidden = false;
      });
    });
  });
})();
