// Handheld count page (扫码盘点): a keyboard-wedge scanner types the code into the autofocused
// field and presses Enter; each code is posted to /api/v1/stock/stocktakes/{id}/count without a
// page reload, the answer goes to the top of the last-counts list, and the field is ready again.
"use strict";
(function () {
  const form = document.getElementById("count-form");
  if (!form) return;
  const id = form.dataset.id;
  const code = document.getElementById("count-code");
  const qty = document.getElementById("count-qty");
  const set = document.getElementById("count-set");
  const msg = document.getElementById("count-message");
  const recent = document.getElementById("count-recent");
  const zh = document.documentElement.lang === "zh-CN";
  let busy = false;

  function say(text, bad) {
    msg.textContent = text;
    msg.className = bad ? "error" : "flash";
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (busy) return;
    const c = code.value.trim();
    if (!c) return;
    const body = { code: c };
    const q = qty.value.trim();
    if (q !== "") {
      const n = Number(q);
      if (!Number.isInteger(n)) { say((zh ? "数量须为整数：" : "qty must be a whole number: ") + q, true); qty.focus(); return; }
      if (set.checked) body.set = n; else body.qty = n;
    }
    busy = true;
    try {
      const res = await sh.post(`/api/v1/stock/stocktakes/${id}/count`, body);
      if (!res.ok) {
        const b = res.body || {};
        say((b.field ? b.field + ": " : "") + (b.message || "HTTP " + res.status), true);
      } else {
        const r = res.body;
        const name = zh ? r.name_zh : r.name_en;
        let line = `${r.sku} ${name} · ${form.dataset.counted} ${r.counted}`;
        if (r.expected !== undefined) line += ` · ${form.dataset.expected} ${r.expected}`;
        say(line, false);
        const li = document.createElement("li");
        li.textContent = line;
        recent.prepend(li);
        while (recent.children.length > 20) recent.lastElementChild.remove();
        qty.value = "";
        set.checked = false;
      }
    } catch (e) {
      say(String(e), true);
    } finally {
      busy = false;
      code.value = "";
      code.focus();
    }
  });
})();
