// ironbox UI: the little behaviour htmx does not give (no inline scripts: CSP).
"use strict";

// Every form submits once: the button is disabled until the page or fragment is replaced.
// (Destructive verbs are confirmed by the server-rendered confirm step, not here.)
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  if (form.dataset.submitted === "1") {
    ev.preventDefault();
    return;
  }
  form.dataset.submitted = "1";
});

// A page restored from the back/forward cache keeps its forms usable.
window.addEventListener("pageshow", function (ev) {
  if (ev.persisted) {
    document.querySelectorAll("form[data-submitted]").forEach(function (f) {
      delete f.dataset.submitted;
    });
  }
});

// htmx requests made from a form re-enable it when they finish (the server may answer
// with an inline error to correct).
document.addEventListener("htmx:afterRequest", function (ev) {
  var form = ev.target && ev.target.closest ? ev.target.closest("form") : null;
  if (form) {
    delete form.dataset.submitted;
  }
});

// A refusal htmx does not swap in (403 CSRF, 409 spent nonce, 400/413/415 bad body, 5xx):
// show Ironic's faultstring next to what was clicked, as text, instead of doing nothing.
function faultstring(xhr) {
  var text = xhr && xhr.responseText ? xhr.responseText : "";
  try {
    var body = JSON.parse(text);
    var inner = body.error_message;
    if (typeof inner === "string") {
      try { inner = JSON.parse(inner); } catch (e) { return inner; }
    }
    if (inner && inner.faultstring) {
      return inner.faultstring;
    }
  } catch (e) { /* not JSON: fall through */ }
  return "The request failed (HTTP " + (xhr ? xhr.status : "?") + ").";
}

function showRefusal(elt, message) {
  var anchor = (elt && elt.closest && (elt.closest("form") || elt)) || document.querySelector("main") || document.body;
  var box = anchor.previousElementSibling;
  if (!box || !box.hasAttribute("data-htmx-error")) {
    box = document.createElement("p");
    box.className = "error";
    box.setAttribute("role", "alert");
    box.setAttribute("data-htmx-error", "");
    anchor.parentNode.insertBefore(box, anchor);
  }
  box.textContent = message;
}

document.addEventListener("htmx:responseError", function (ev) {
  showRefusal(ev.target, faultstring(ev.detail && ev.detail.xhr));
});
document.addEventListener("htmx:sendError", function (ev) {
  showRefusal(ev.target, "ironbox did not answer; check that it is running and try again.");
});
