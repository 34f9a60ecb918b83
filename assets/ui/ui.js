// ironbox UI: the little behaviour htmx does not give (no inline scripts: CSP).
"use strict";

// Forms with data-confirm ask before submitting (destructive verbs), and every form
// submits once: the button is disabled until the page or fragment is replaced.
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  var msg = form.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) {
    ev.preventDefault();
    return;
  }
  if (form.dataset.submitted === "1") {
    ev.preventDefault();
    return;
  }
  form.dataset.submitted = "1";
});

// htmx requests made from a form re-enable it when they finish (the server may answer
// with an inline error to correct).
document.addEventListener("htmx:afterRequest", function (ev) {
  var form = ev.target && ev.target.closest ? ev.target.closest("form") : null;
  if (form) {
    delete form.dataset.submitted;
  }
});
