// The dashboard's live part: the server pushes the page's fragments over server-sent events
// (GET /api/v1/dashboard/events) after each commit, at most once a second; this only swaps
// them in. No polling: EventSource reconnects by itself when the link drops.
"use strict";
(function () {
  const live = document.getElementById("dash-live");
  if (!live || typeof EventSource === "undefined") return;
  const say = (key, cls) => {
    live.textContent = live.dataset[key] || "";
    live.className = cls;
  };
  const es = new EventSource("/api/v1/dashboard/events");
  es.addEventListener("summary", (ev) => {
    let data;
    try { data = JSON.parse(ev.data); } catch (_) { return; }
    const parts = (data && data.html) || {};
    for (const id of Object.keys(parts)) {
      const el = document.getElementById(id);
      if (el) el.innerHTML = parts[id];
    }
    say("liveText", "ok");
  });
  es.addEventListener("error", () => say("lostText", "warn"));
})();
