/* The live page's Show / Stop showing buttons: posted in the background, so the live socket stays open.
   Without JS the forms post and the page reloads. */
(function () {
  "use strict";
  var card = document.getElementById("ill-show-card");
  if (!card) return;
  var state = document.getElementById("ill-show-state");
  var texts = document.getElementById("ill-show-texts").dataset;
  card.querySelectorAll("form.ill-live-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var row = form.closest("li");
      fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": form.querySelector("input[name=csrfmiddlewaretoken]").value },
      }).then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        card.querySelectorAll("li[data-illustration]").forEach(function (li) { li.dataset.shown = li === row ? "yes" : "no"; });
        state.textContent = row ? texts.shown : texts.hidden;
      }).catch(function () { state.textContent = texts.failed; });
    });
  });
})();
