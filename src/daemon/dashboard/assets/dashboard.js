// jobcd dashboard: applies the server's live updates to the page. The
// server renders every fragment; this only swaps it in. Without
// JavaScript the pages are the same, only not live.
(function () {
  "use strict";
  var live = document.getElementById("live");
  function say(text) { if (live) { live.textContent = text; } }

  function fragment(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  // Replaces the element with the fragment's id, or (for a run nobody
  // shows yet) puts it first in the tables that take new runs.
  function apply(html, newRows) {
    var element = fragment(html);
    if (!element || !element.id) { return; }
    var old = document.getElementById(element.id);
    if (old) {
      old.replaceWith(element);
    } else if (newRows) {
      var bodies = document.querySelectorAll('tbody[data-live-runs="prepend"]');
      if (bodies.length === 0) { return; }
      bodies.forEach(function (body, i) {
        body.prepend(i === 0 ? element : element.cloneNode(true));
      });
    } else {
      return;
    }
    if (element.tagName === "TR") { element.classList.add("flash"); }
  }

  // Every stream this page holds. They are closed when the page is left
  // (a browser holds six connections per server; a page kept in the
  // back-forward cache would keep its streams open) and opened again if
  // it comes back.
  var streams = [];

  function connect() {
    var source = document.body.dataset.events;
    if (source && window.EventSource) {
      var events = new EventSource(source);
      events.addEventListener("open", function () { say("Live: updates appear as they happen."); });
      events.addEventListener("error", function () { say("Live updates paused; reconnecting."); });
      events.addEventListener("source", function (e) { apply(e.data, false); });
      events.addEventListener("run", function (e) { apply(e.data, true); });
      streams.push(events);
    }
    // A pod's log: appended as the container writes it; kept scrolled to
    // the end while the reader is there. Each event's id is the offset
    // after it, so a reconnection goes on where it stopped.
    document.querySelectorAll("pre[data-follow]").forEach(function (pre) {
      var follow = new EventSource(pre.dataset.follow);
      follow.addEventListener("log", function (e) {
        var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        pre.append(document.createTextNode(e.data));
        if (atEnd) { pre.scrollTop = pre.scrollHeight; }
      });
      streams.push(follow);
    });
  }

  window.addEventListener("pagehide", function () {
    streams.forEach(function (s) { s.close(); });
    streams = [];
  });
  window.addEventListener("pageshow", function (e) {
    // Back from the cache: what changed meanwhile was not applied.
    if (e.persisted) { window.location.reload(); }
  });
  connect();
})();
