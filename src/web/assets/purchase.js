// Purchase order page (采购单): the receive-by-scanning box. A handheld scanner in keyboard mode
// types the code into #po-scan and presses Enter; each scan is POSTed to
// /api/v1/stock/purchase-orders/{id}/receive and the line's received / outstanding cells, the
// order's state and a message update without a page reload. A wrong code shows the server's
// message (it names the code). Without this script the box is a plain form.
"use strict";
(function () {
  const form = document.getElementById("po-receive");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const scan = $("po-scan");
  const qty = $("po-qty");
  const over = $("po-over");
  const notice = $("po-notice");
  const states = JSON.parse(form.dataset.states || "{}");
  const zh = document.documentElement.lang === "zh-CN";
  let busy = false;

  function say(text, kind) {
    notice.textContent = "";
    const span = document.createElement("span");
    span.className = kind || "";
    span.textContent = text;
    notice.appendChild(span);
  }

  // Pieces as they are; grams of weighed goods as kg with three decimals (as the server shows).
  function amount(n, weighed) {
    if (!weighed) return String(n);
    const sign = n < 0 ? "-" : "";
    const a = Math.abs(n);
    return sign + Math.floor(a / 1000) + "." + String(a % 1000).padStart(3, "0") + " kg";
  }

  function rowOf(sku) {
    for (const r of document.querySelectorAll("#po-lines tbody tr")) if (r.dataset.sku === sku) return r;
    return null;
  }

  function show(r) {
    const line = r.line;
    const row = rowOf(line.sku);
    if (row) {
      row.querySelector(".received").textContent = amount(line.received, line.weighed);
      row.querySelector(".outstanding").textContent = amount(r.outstanding, line.weighed);
      row.classList.toggle("done", line.received >= line.ordered);
      row.classList.add("fresh");
    }
    const state = r.order.state;
    const badge = document.querySelector("#po-state [data-state]");
    if (badge) {
      badge.dataset.state = state;
      badge.textContent = states[state] || state;
    }
    const name = zh ? line.name_zh : line.name_en;
    say(`✓ ${name} +${amount(r.receipt.qty, line.weighed)} (${amount(line.received, line.weighed)} / ${amount(line.ordered, line.weighed)})`, "ok");
    if (state === "received") {
      say(zh ? "全部到齐：这张采购单已收完。" : "Everything arrived: this order is fully received.", "ok");
      scan.disabled = true;
    }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (busy) return;
    const code = scan.value.trim();
    if (!code) return;
    const body = { code, allow_over: over.checked };
    const q = qty.value.trim();
    if (q !== "") {
      if (!/^-?\d+$/.test(q)) {
        say(zh ? `数量“${q}”不是整数` : `quantity ${JSON.stringify(q)} is not a whole number`, "error");
        return;
      }
      body.qty = parseInt(q, 10);
    }
    busy = true;
    try {
      const res = await sh.post(form.dataset.api, body);
      if (res.ok) {
        show(res.body);
        qty.value = "";
        over.checked = false;
      } else {
        const b = res.body || {};
        say((b.field ? b.field + ": " : "") + (b.message || "HTTP " + res.status), "error");
      }
    } catch (e) {
      say((zh ? "网络错误：" : "Network error: ") + e, "error");
    } finally {
      busy = false;
      scan.value = "";
      scan.focus();
    }
  });
})();
