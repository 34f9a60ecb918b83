// ironbox UI: serial consoles. Every element with data-console-ws becomes an xterm.js
// terminal on that WebSocket: the server sends what scrolled by, then live output (binary);
// keystrokes go back as text. A dropped socket reconnects (the replay redraws the screen).
"use strict";

(function () {
  function start(el) {
    var term = new Terminal({
      convertEol: false,
      cursorBlink: true,
      scrollback: 10000,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace',
      fontSize: 14
    });
    var fit = new FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open(el);
    fit.fit();
    window.addEventListener("resize", function () { fit.fit(); });
    var panel = el.closest(".console-panel");
    var status = panel ? panel.querySelector("[data-console-status]") : null;
    function say(text) {
      if (status) { status.textContent = text; }
      el.dataset.state = text;
    }
    var ws = null;
    var wait = 1000;
    term.onData(function (d) {
      if (ws && ws.readyState === WebSocket.OPEN) { ws.send(d); }
    });
    function connect() {
      var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host +
        el.getAttribute("data-console-ws");
      ws = new WebSocket(url);
      ws.binaryType = "arraybuffer";
      var fresh = true;
      ws.onopen = function () { say("connected"); wait = 1000; };
      ws.onmessage = function (ev) {
        if (fresh) { term.reset(); fresh = false; }
        term.write(typeof ev.data === "string" ? ev.data : new Uint8Array(ev.data));
      };
      ws.onclose = function (ev) {
        if (ev.reason === "console disabled") { say("console disabled"); return; }
        say("disconnected; reconnecting…");
        setTimeout(connect, wait);
        wait = Math.min(wait * 2, 30000);
      };
    }
    connect();
    term.focus();
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-console-ws]").forEach(start);
  });
})();
