// storehub pages: the few helpers every page's script shares. No framework, no build step.
"use strict";
window.sh = {
  // The session's CSRF token (from <meta name="csrf-token">).
  csrf() {
    const m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  },
  // POST/PUT/DELETE JSON with the CSRF token; resolves to {ok, status, body}.
  async send(method, url, body) {
    const res = await fetch(url, {
      method,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": sh.csrf() },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = null;
    try { data = await res.json(); } catch (_) { data = null; }
    return { ok: res.ok, status: res.status, body: data };
  },
  post(url, body) { return sh.send("POST", url, body); },
  // ¥1,234.50 from fen, as the server formats it.
  yuan(fen) {
    const neg = fen < 0;
    const abs = Math.abs(fen);
    const yuan = Math.floor(abs / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    const cents = String(abs % 100).padStart(2, "0");
    return (neg ? "-" : "") + "¥" + yuan + "." + cents;
  },
};
