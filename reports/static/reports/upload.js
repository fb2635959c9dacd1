/* Recorded calls: the transfer's progress while the form uploads (XMLHttpRequest upload events), then the
   analysis's progress (polling reports:recording_status) and the report's link when it is done.
   Plain JS, no dependencies, no inline script (CSP). Without it the form posts as usual and the recording's
   page refreshes itself until the analysis ends. The texts come translated in the page's data attributes. */
(function () {
  "use strict";

  function percent(fraction) {
    return Math.max(0, Math.min(100, Math.round(fraction * 100)));
  }

  // --- The analysis: poll the recording's status until it is done or failed.
  function watchAnalysis(box) {
    var url = box.dataset.analysisUrl;
    var bar = box.querySelector("[data-analysis-bar]");
    var label = box.querySelector("[data-analysis-label]");
    var text = box.querySelector("[data-analysis-text]");
    if (!url) return;
    box.hidden = false;

    function show(data) {
      var value = data.status === "done" ? 100 : percent(data.progress || 0);
      bar.value = value;
      label.textContent = value + " %";
      if (text.dataset[data.status]) text.textContent = text.dataset[data.status];
    }

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (data) {
          show(data);
          if (data.status === "done") {
            var link = box.querySelector("[data-report-link]");
            if (data.report_url) {
              link.href = data.report_url;
              box.querySelector("[data-analysis-done]").hidden = false;
            }
            return;
          }
          if (data.status === "failed") {
            var kind = data.error === "unreadable" ? "unreadable" : "internal";
            box.querySelector('[data-analysis-failed="' + kind + '"]').hidden = false;
            return;
          }
          setTimeout(poll, 1000);
        })
        .catch(function () { setTimeout(poll, 3000); });
    }
    poll();
  }

  // --- The upload: send the form ourselves, so the transfer can show its progress.
  function errorList(messages) {
    var list = document.createElement("ul");
    list.className = "errorlist";
    messages.forEach(function (message) {
      var item = document.createElement("li");
      item.textContent = message;
      list.appendChild(item);
    });
    return list;
  }

  function showErrors(form, errors) {
    Object.keys(errors).forEach(function (name) {
      var box = form.querySelector('[data-errors-for="' + name + '"]') || form.querySelector('[data-errors-for="__all__"]');
      var messages = errors[name].map(function (e) { return e.message; });
      if (box) box.appendChild(errorList(messages));
    });
  }

  function parse(text) {
    try {
      return JSON.parse(text);
    } catch (e) {
      return null;
    }
  }

  function enhance(form) {
    var region = document.getElementById(form.dataset.uploadForm);
    if (!region || !window.FormData || !window.XMLHttpRequest) return;
    var button = form.querySelector("[data-upload-submit]");
    var bar = region.querySelector("[data-transfer-bar]");
    var label = region.querySelector("[data-transfer-label]");
    var text = region.querySelector("[data-transfer-text]");
    var failure = region.querySelector("[data-transfer-error]");
    var busy = false;

    function transfer(fraction) {
      var value = percent(fraction);
      bar.value = value;
      label.textContent = value + " %";
    }

    function reset() {
      busy = false;
      button.disabled = false;
    }

    function failed() {
      reset();
      failure.textContent = region.dataset.msgFailed;
      failure.hidden = false;
    }

    function uploaded(body) {
      transfer(1);
      text.textContent = region.dataset.msgSent;
      region.querySelector("[data-recording-link]").href = body.url;
      region.querySelector("[data-leave]").hidden = false;
      var box = region.querySelector("[data-analysis]");
      box.dataset.analysisUrl = body.status_url;
      watchAnalysis(box);
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) return;
      busy = true;
      button.disabled = true;
      form.querySelectorAll("[data-errors-for]").forEach(function (box) { box.textContent = ""; });
      failure.hidden = true;
      transfer(0);
      text.textContent = region.dataset.msgSending;
      region.hidden = false;

      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable && e.total) transfer(e.loaded / e.total);
      });
      xhr.upload.addEventListener("load", function () { transfer(1); });
      xhr.addEventListener("load", function () {
        var body = parse(xhr.responseText);
        if (xhr.status === 201 && body && body.url) {
          uploaded(body);
        } else if (xhr.status === 400 && body && body.errors) {
          region.hidden = true;
          showErrors(form, body.errors);
          reset();
        } else {
          failed();
        }
      });
      xhr.addEventListener("error", failed);
      xhr.addEventListener("abort", failed);
      xhr.send(new FormData(form));
    });
  }

  document.querySelectorAll("form[data-upload-form]").forEach(enhance);
  document.querySelectorAll("[data-analysis][data-analysis-url]").forEach(watchAnalysis);
})();
