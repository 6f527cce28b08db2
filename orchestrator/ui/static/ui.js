// orchestrate ui: live updates, without a reload, of a running run's page and of the
// newest page of the runs list.
// The server sends `update` (server-sent events) when the run's records change; the page
// then fetches the server-rendered, escaped fragment and swaps it in. No inline script,
// no eval, no third-party code (the page's Content-Security-Policy allows only this file).
"use strict";
(function () {
  // The runs list (its newest page): every 3 s while the tab is visible, the same URL is
  // fetched again and its rows swapped in (new runs appear, statuses change).
  const runs = document.getElementById("runs");
  if (runs && runs.dataset.live === "yes") {
    setInterval(async () => {
      if (document.visibilityState !== "visible") return;
      let reply;
      try {
        reply = await fetch(location.href, { cache: "no-store" });
      } catch (err) {
        return;  // the server is gone for now (stopped, restarting): try again later
      }
      if (!reply.ok) return;
      const doc = new DOMParser().parseFromString(await reply.text(), "text/html");
      for (const sel of ["#runs tbody", "#runs-count", "nav.pager"]) {
        const now = document.querySelector(sel), next = doc.querySelector(sel);
        if (now && next) now.replaceWith(next);
      }
    }, 3000);
  }

  const live = document.getElementById("live");
  if (!live || live.dataset.live !== "yes" || typeof EventSource === "undefined") return;
  const base = "/runs/" + encodeURIComponent(live.dataset.run);
  let pending = false, again = false;

  async function refresh() {
    if (pending) { again = true; return; }
    pending = true;
    try {
      const open = Array.from(live.querySelectorAll("details[open]"), (d) => d.id);
      const reply = await fetch(base + "/live", { cache: "no-store" });
      if (reply.ok) {
        const html = await reply.text();
        const doc = new DOMParser().parseFromString(html, "text/html");
        live.replaceChildren(...Array.from(doc.body.childNodes));
        for (const id of open) {
          const d = document.getElementById(id);
          if (d) d.open = true;
        }
      }
    } finally {
      pending = false;
      if (again) { again = false; refresh(); }
    }
  }

  const stream = new EventSource(base + "/stream");
  stream.addEventListener("update", refresh);
  stream.addEventListener("done", () => { stream.close(); live.dataset.live = "no"; refresh(); });
})();
