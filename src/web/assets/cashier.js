// Cashier screen (收银台): renders the lane's cart from server-sent events (no polling), sends the
// cashier's actions to /api/v1/lanes/{lane}/…, and works from the keyboard alone (a USB barcode
// scanner types into the scan field and presses Enter). Plain JavaScript, no framework.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("cashier-data").textContent);
  const S = data.strings;
  const zh = data.lang === "zh-CN";
  const api = data.api;
  const $ = (id) => document.getElementById(id);
  let view = data.cart;
  let pending = null; // a view waiting while a quantity is being edited
  let lastSale = view.last_sale_id;

  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const yuan = (f) => sh.yuan(f);
  const name2 = (a, b) => (zh ? [a, b] : [b, a]);
  const pick = (o, k) => (zh ? o[k + "_zh"] : o[k + "_en"]);

  // "100", "99.5", "99.50" → fen; null when it is not an amount.
  function fen(text) {
    const t = String(text || "").trim().replace(/^¥/, "");
    if (t === "") return 0;
    const m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(t);
    if (!m) return null;
    return parseInt(m[1], 10) * 100 + (m[2] ? parseInt(m[2].padEnd(2, "0"), 10) : 0);
  }

  // The shop's cash rounding, as the server applies it.
  function roundCash(due, rule) {
    if (due <= 0) return due;
    switch (rule) {
      case "to_jiao": return Math.floor((due + 5) / 10) * 10;
      case "down_to_jiao": return due - (due % 10);
      case "down_to_yuan": return due - (due % 100);
      default: return due;
    }
  }

  function say(text, kind) {
    const n = $("notice");
    n.className = "notice" + (kind ? " " + kind : "");
    n.textContent = text || "";
  }

  function problem(res) {
    const b = res.body || {};
    return (b.field ? b.field + ": " : "") + (b.message || "HTTP " + res.status);
  }

  // --- rendering ---------------------------------------------------------------------------

  function rowHtml(l) {
    const [main, other] = name2(l.name_zh, l.name_en);
    const qty = l.fixed_qty
      ? esc(l.qty_text)
      : `<input class="qty" type="number" min="1" step="1" value="${l.units || 1}" data-line="${l.line_no}" aria-label="qty">`;
    const price = l.label_price_fen != null
      ? `${yuan(l.label_price_fen)} <small class="muted">${esc(S.label)}</small>`
      : `${yuan(l.unit_price_fen)}${l.per_kg ? `<small class="muted">${esc(S.per_kg)}</small>` : ""}`;
    const disc = l.discounts.map((d) => `<span class="d">${esc(pick(d, "reason"))} −${yuan(d.amount_fen)}</span><br>`).join("");
    return `<tr data-line="${l.line_no}"><td class="num">${l.line_no}</td>` +
      `<td><span class="name">${esc(main)}</span><br><small class="muted">${esc(other)} · ${esc(l.sku)}</small></td>` +
      `<td class="num qty">${qty}</td><td class="num">${price}</td><td class="num disc">${disc}</td>` +
      `<td class="num net">${l.net_fen == null ? "" : yuan(l.net_fen)}</td>` +
      `<td>${l.label_price_fen == null ? `<button class="secondary ovr" type="button" data-line="${l.line_no}" title="${esc(S.override)}">${esc(S.override_short)}</button> ` : ""}` +
      `<button class="secondary rm" type="button" data-line="${l.line_no}" title="${esc(S.remove)}">×</button></td></tr>`;
  }

  function renderLines(v) {
    const body = $("cart-lines");
    const before = new Set(Array.from(body.rows, (r) => r.dataset.line));
    body.innerHTML = v.lines.map(rowHtml).join("");
    for (const r of body.rows) if (!before.has(r.dataset.line)) r.classList.add("fresh");
    const last = body.rows[body.rows.length - 1];
    if (last && !before.has(last.dataset.line)) last.scrollIntoView({ block: "nearest" });
    $("cart-empty").hidden = v.lines.length > 0;
  }

  function renderTotals(v) {
    const t = v.totals;
    $("t-items").textContent = t ? t.items : "";
    $("t-gross").textContent = t ? yuan(t.gross_fen) : "";
    $("t-disc").textContent = t ? yuan(-t.discount_fen) : "";
    $("t-pay").textContent = t ? yuan(t.payable_fen) : "";
    $("t-cash").textContent = t ? yuan(t.cash_due_fen) : "";
    $("ticket-discounts").textContent = v.ticket_discounts.map((d) => `${pick(d, "reason")} −${yuan(d.amount_fen)}`).join(" · ");
    const qe = $("quote-error");
    qe.hidden = !v.quote_error;
    qe.textContent = v.quote_error || "";
  }

  function renderMember(v) {
    const p = $("member-panel");
    const m = v.member;
    $("points-row").hidden = !(m && m.points_max_fen > 0);
    if ($("points-row").hidden) $("points").value = "";
    if (!m) { p.innerHTML = ""; $("points-max").textContent = ""; return; }
    const coupons = m.coupons.length
      ? "<ul>" + m.coupons.map((c) => `<li><span>${esc(pick(c, "name"))} <small class="muted">${esc(S.until)} ${esc(c.valid_to)}</small></span>` +
          (c.applied ? `<span class="ok">${esc(S.applied)}</span>` : `<button type="button" class="secondary" data-coupon="${esc(c.code)}">${esc(S.apply)}</button>`) + "</li>").join("") + "</ul>"
      : `<div class="muted">${esc(S.no_coupons)}</div>`;
    p.innerHTML = `<div><strong>${esc(S.member)} ${esc(m.phone)}</strong> · ${esc(S.tier)} ${esc((document.documentElement.lang === "en" ? m.tier_name_en : m.tier_name_zh) || m.tier || "—")}` +
      ` <button type="button" class="secondary" id="member-remove">${esc(S.remove_member)}</button></div>` +
      `<div>${esc(S.points)} ${m.points} (${esc(S.usable)} ${m.points_usable}) · ${esc(S.balance)} ${yuan(m.stored_value_fen)}</div>` +
      `<div class="muted">${esc(S.coupons)}</div>${coupons}`;
    $("points-max").textContent = m.points_max_fen > 0 ? `${S.max_points} ${yuan(m.points_max_fen)}` : "";
  }

  // Add-ons (推荐加购) for a member's open cart, asked again only when the cart's SKUs change.
  let addonsFor = "";
  async function renderAddons(v) {
    const box = $("addons");
    const key = v.member && v.lines.length ? v.lines.map((l) => l.sku).join(",") : "";
    if (key === addonsFor) return;
    addonsFor = key;
    if (!key) { box.hidden = true; box.innerHTML = ""; return; }
    const res = await sh.send("GET", `${api}/suggestions`);
    if (addonsFor !== key) return; // the cart changed meanwhile
    const list = res.ok && res.body ? res.body.suggestions : [];
    box.hidden = list.length === 0;
    box.innerHTML = `<div class="muted">${esc(S.addons)}</div><ul>` +
      list.map((s) => `<li><span>${esc(pick(s, "name"))} <small class="muted">${esc(pick(s, "reason"))}</small></span></li>`).join("") + "</ul>";
  }

  function renderCoupons(v) {
    $("coupons-applied").innerHTML = v.coupons.map((c) =>
      `<span>${esc(c)}<button type="button" class="secondary" data-uncoupon="${esc(c)}" title="${esc(S.coupon_remove)}">×</button></span>`).join("");
  }

  // A notice belongs to the change that made it: shown once per version, cleared when a later
  // change comes without one.
  let shownNotice = "";
  function renderNotice(v) {
    const n = v.notice;
    const key = n ? v.version + JSON.stringify(n) : "";
    if (key === shownNotice) return;
    const was = shownNotice;
    shownNotice = key;
    if (!n) { if (was) say(""); return; }
    if (n.kind === "unknown_barcode") say(`${S.unknown_barcode} ${n.code}`, "bad");
    else if (n.kind === "refused") say(`${S.refused}${n.message}`, "bad");
    else if (n.kind === "counted") say(n.message, "ok");
    else if (n.kind === "needs_weight") {
      const [main] = name2(n.name_zh, n.name_en);
      const box = $("notice");
      box.className = "notice";
      box.innerHTML = `<div>${esc(S.needs_weight)}<strong>${esc(main)}</strong></div><div class="weigh">` +
        `<input id="weigh-grams" inputmode="numeric" placeholder="${esc(S.grams)}" aria-label="grams">` +
        `<button type="button" id="weigh-btn" data-sku="${esc(n.sku)}">${esc(S.weigh)}</button></div>`;
    }
  }

  // Count mode (盘点中): a banner while the lane's scans count into a stocktake.
  function renderCounting(v) {
    let b = $("counting-banner");
    if (!b) {
      b = document.createElement("div");
      b.id = "counting-banner";
      b.className = "notice bad";
      document.querySelector("main").prepend(b);
    }
    b.hidden = v.counting == null;
    b.textContent = v.counting == null ? "" : `盘点中 · counting · #${v.counting}`;
  }

  function render(v) {
    if (v.version < view.version && v.lane === view.lane) return; // an older answer
    view = v;
    renderCounting(v);
    if (v.last_sale_id != null) lastSale = v.last_sale_id;
    if ($("cart-lines").contains(document.activeElement)) { pending = v; } else { renderLines(v); }
    renderTotals(v);
    renderMember(v);
    renderAddons(v);
    renderCoupons(v);
    renderNotice(v);
    $("shift-form").hidden = !!v.shift;
    if (v.lines.length > 0) $("paid").hidden = true;
    updateChange();
  }

  // --- tenders -------------------------------------------------------------------------------

  function dueNow() {
    const t = view.totals;
    if (!t) return null;
    const points = fen($("points").value) || 0;
    const rest = Math.max(0, t.payable_fen - points);
    return $("tender-kind").value === "cash" ? roundCash(rest, t.cash_rounding) : rest;
  }

  function updateChange() {
    const box = $("change-due");
    const due = dueNow();
    $("tender-ref").hidden = !["wechat_pay", "alipay", "bank_card"].includes($("tender-kind").value);
    if (due == null || view.lines.length === 0) { box.textContent = ""; return; }
    const given = fen($("tender-amount").value);
    if (given === null || fen($("points").value) === null) { box.textContent = S.amount_bad; return; }
    if (!given) { box.innerHTML = `${esc(S.due)} <strong>${yuan(due)}</strong>`; return; }
    const diff = given - due;
    box.innerHTML = diff >= 0
      ? `${esc(S.due)} ${yuan(due)} · ${esc(S.change)} <strong>${yuan(diff)}</strong>`
      : `${esc(S.due)} ${yuan(due)} · ${esc(S.short)} <strong class="error">${yuan(-diff)}</strong>`;
  }

  async function pay() {
    if (!view.lines.length) { say(S.empty, "bad"); focusScan(); return; }
    const points = fen($("points").value);
    let amount = fen($("tender-amount").value);
    if (points === null || amount === null) { say(S.amount_bad, "bad"); return; }
    const kind = $("tender-kind").value;
    const tenders = [];
    if (points > 0) tenders.push({ kind: "points", amount_fen: points });
    if (!amount) amount = dueNow() || 0;
    if (amount > 0) {
      const t = { kind, amount_fen: amount };
      const ref = $("tender-ref").value.trim();
      if (ref) t.reference = ref;
      tenders.push(t);
    }
    $("pay").disabled = true;
    try {
      const res = await sh.post(`${api}/pay`, { tenders });
      if (!res.ok) { say(problem(res), "bad"); return; }
      const p = res.body;
      lastSale = p.sale_id;
      $("paid-change").textContent = yuan(p.change_fen);
      $("paid-info").textContent = `${S.paid} · ${S.receipt} ${p.receipt_no} · ${yuan(p.total_fen)}`;
      $("paid-receipt").textContent = p.receipt_text;
      $("paid").hidden = false;
      Object.assign($("paid").dataset, { saleId: p.sale_id, receiptNo: p.receipt_no, totalFen: p.total_fen, changeFen: p.change_fen });
      $("points").value = ""; $("tender-amount").value = ""; $("tender-ref").value = ""; $("tender-kind").value = "cash";
      say(`${S.paid} · ${S.change} ${yuan(p.change_fen)}`, "ok");
      updateChange();
      focusScan();
    } finally {
      $("pay").disabled = false;
    }
  }

  // --- actions -------------------------------------------------------------------------------

  async function call(method, path, body) {
    const res = await sh.send(method, `${api}${path}`, body);
    if (!res.ok) { say(problem(res), "bad"); return null; }
    return res.body;
  }

  async function scan(code) {
    $("paid").hidden = true;
    const bySku = /^[A-Za-z]/.test(code);
    const res = bySku ? await sh.post(`${api}/items`, { sku: code, qty: 1 }) : await sh.post(`${api}/scan`, { code });
    if (!res.ok) { say(problem(res), "bad"); return; }
    say("");
    render(bySku ? res.body : res.body.cart);
  }

  function focusScan() { const s = $("scan"); s.focus(); s.select(); }

  async function openApproval(title, note, needPin, run) {
    const d = $("approve-dialog");
    $("approve-title").textContent = title;
    $("approve-error").textContent = "";
    if (note) $("approve-note").textContent = note;
    d.showModal();
    (needPin ? $("approve-staff") : $("approve-ok")).focus();
    d.onsubmit = async (e) => {
      e.preventDefault();
      const body = needPin ? { approver: { staff: $("approve-staff").value.trim(), pin: $("approve-pin").value } } : {};
      const res = await run(body);
      if (!res.ok) { $("approve-error").textContent = problem(res); return; }
      if (needPin) { $("approve-pin").value = ""; }
      d.close();
      focusScan();
    };
  }

  function voidCart() {
    if (!view.lines.length) { say(S.empty, "bad"); return; }
    openApproval(S.void_confirm, null, !data.may_void, async (body) => {
      const res = await sh.post(`${api}/void`, body);
      if (res.ok) { render(res.body); say(S.voided, "ok"); }
      return res;
    });
  }

  async function reprint() {
    let id = lastSale;
    if (id == null) {
      const typed = window.prompt(S.sale_id);
      if (!typed) return;
      id = typed.trim();
    }
    const res = await sh.post(`${api}/sales/${encodeURIComponent(id)}/reprint`);
    if (!res.ok) { say(problem(res), "bad"); return; }
    $("paid-change").textContent = "";
    $("paid-info").textContent = `${S.reprinted} · ${res.body.receipt_no}`;
    $("paid-receipt").textContent = res.body.receipt_text;
    $("paid").hidden = false;
    say(S.reprinted, "ok");
  }

  // 改价: a manager's price override of one line (a cashier needs the manager's id and PIN).
  function openOverride(lineNo) {
    const l = view.lines.find((x) => String(x.line_no) === String(lineNo));
    if (!l) return;
    const d = $("price-dialog");
    $("price-line").textContent = `${lineNo} · ${pick(l, "name")} · ${yuan(l.unit_price_fen)}${l.per_kg ? S.per_kg : ""}`;
    $("price-error").textContent = "";
    $("price-amount").value = "";
    d.showModal();
    $("price-amount").focus();
    d.onsubmit = async (e) => {
      e.preventDefault();
      const price = $("price-amount").value.trim() === "" ? null : fen($("price-amount").value);
      if (price == null) { $("price-error").textContent = S.amount_bad; return; }
      const body = { price_fen: price, reason: $("price-reason").value };
      if (!data.may_override) body.approver = { staff: $("price-staff").value.trim(), pin: $("price-pin").value };
      const res = await sh.post(`${api}/lines/${lineNo}/price`, body);
      if (!res.ok) { $("price-error").textContent = problem(res); return; }
      if (!data.may_override) $("price-pin").value = "";
      $("price-reason").value = "";
      d.close();
      render(res.body);
      say(S.overridden, "ok");
      focusScan();
    };
  }

  function openReturn() {
    const d = $("return-dialog");
    $("return-error").textContent = "";
    d.showModal();
    $("return-sale").focus();
    d.onsubmit = async (e) => {
      e.preventDefault();
      const body = { sale_id: Number($("return-sale").value.trim()), reason: $("return-reason").value, restock: $("return-restock").checked };
      const lines = $("return-lines").value.trim();
      if (lines) {
        body.lines = [];
        for (const part of lines.split(/[,，\s]+/).filter(Boolean)) {
          const m = /^(\d+):(\d+)$/.exec(part);
          if (!m) { $("return-error").textContent = `${part}: LINE:QTY`; return; }
          body.lines.push({ line_no: Number(m[1]), qty: Number(m[2]) });
        }
      }
      if (!data.may_return) body.approver = { staff: $("return-staff").value.trim(), pin: $("return-pin").value };
      const res = await sh.post(`${api}/returns`, body);
      if (!res.ok) { $("return-error").textContent = problem(res); return; }
      if (!data.may_return) $("return-pin").value = "";
      d.close();
      say(`${S.returned} ${yuan(res.body.refund_fen)}`, "ok");
      focusScan();
    };
  }

  // --- wiring --------------------------------------------------------------------------------

  $("scan-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const code = $("scan").value.trim();
    $("scan").value = "";
    if (code) scan(code);
  });
  $("member-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const q = $("member").value.trim();
    if (!q) return;
    const v = await call("POST", "/member", { query: q });
    if (v) { $("member").value = ""; say(""); render(v); focusScan(); }
  });
  $("coupon-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const c = $("coupon").value.trim();
    if (!c) return;
    const v = await call("POST", "/coupons", { code: c });
    if (v) { $("coupon").value = ""; say(""); render(v); focusScan(); }
  });
  $("shift-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = fen($("shift-float").value);
    if (f === null) { say(S.amount_bad, "bad"); return; }
    if (await call("POST", "/shift", { float_fen: f })) {
      const v = await call("GET", "/cart");
      if (v) render(v);
      focusScan();
    }
  });
  $("pay-form").addEventListener("submit", (e) => { e.preventDefault(); pay(); });
  for (const id of ["points", "tender-amount", "tender-kind"]) $(id).addEventListener("input", updateChange);
  $("void-btn").addEventListener("click", voidCart);
  $("reprint-btn").addEventListener("click", reprint);
  $("return-btn").addEventListener("click", openReturn);
  for (const b of document.querySelectorAll("[data-quick]")) {
    b.addEventListener("click", () => {
      const q = b.dataset.quick;
      $("tender-amount").value = q === "exact" ? ((dueNow() || 0) / 100).toFixed(2) : (Number(q) / 100).toFixed(0);
      updateChange();
      $("tender-amount").focus();
    });
  }
  for (const d of document.querySelectorAll("dialog")) {
    d.addEventListener("click", (e) => { if (e.target.matches("[data-close]")) { d.close(); focusScan(); } });
  }
  document.addEventListener("click", async (e) => {
    const t = e.target.closest("button");
    if (!t) return;
    if (t.matches(".ovr")) { openOverride(t.dataset.line); }
    else if (t.matches(".rm")) { const v = await call("DELETE", `/lines/${t.dataset.line}`); if (v) render(v); focusScan(); }
    else if (t.dataset.coupon) { const v = await call("POST", "/coupons", { code: t.dataset.coupon }); if (v) { say(""); render(v); } focusScan(); }
    else if (t.dataset.uncoupon) { const v = await call("DELETE", `/coupons/${encodeURIComponent(t.dataset.uncoupon)}`); if (v) render(v); }
    else if (t.id === "member-remove") { const v = await call("DELETE", "/member"); if (v) render(v); focusScan(); }
    else if (t.id === "weigh-btn") {
      const g = $("weigh-grams").value.trim();
      const body = { sku: t.dataset.sku };
      if (g) body.grams = Number(g);
      const v = await call("POST", "/weigh", body);
      if (v) { say(""); render(v); focusScan(); }
    }
  });
  const lines = $("cart-lines");
  lines.addEventListener("change", async (e) => {
    if (!e.target.matches("input.qty")) return;
    const qty = Number(e.target.value);
    const v = await call("PUT", `/lines/${e.target.dataset.line}`, { qty });
    if (v) pending = v;
  });
  lines.addEventListener("keydown", (e) => { if (e.key === "Enter" && e.target.matches("input.qty")) { e.preventDefault(); e.target.blur(); } });
  lines.addEventListener("focusout", () => {
    setTimeout(() => { if (pending && !lines.contains(document.activeElement)) { const v = pending; pending = null; renderLines(v); } }, 0);
  });

  // Function keys; anything typed while no field has focus goes to the scan field (a scanner
  // keeps working after a click elsewhere).
  document.addEventListener("keydown", (e) => {
    const open = document.querySelector("dialog[open]");
    const keys = {
      F2: () => $("member").focus(),
      F3: () => $("coupon").focus(),
      F4: () => (document.activeElement === $("tender-amount") ? pay() : $("tender-amount").focus()),
      F6: () => { if (!$("points-row").hidden) $("points").focus(); },
      F7: openReturn,
      F8: voidCart,
      F9: reprint,
    };
    if (e.key === "Escape") {
      if (open) open.close();
      e.preventDefault();
      focusScan();
      return;
    }
    if (keys[e.key] && !open) { e.preventDefault(); keys[e.key](); return; }
    const a = document.activeElement;
    const typing = a && (a.tagName === "INPUT" || a.tagName === "SELECT" || a.tagName === "TEXTAREA");
    if (!open && !typing && e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey) $("scan").focus();
  });

  // Live cart: the hub pushes the cart after every change, whichever device or screen made it.
  let resync = false; // after a reconnect the hub may have restarted and counts from 0 again
  function connect() {
    const es = new EventSource(`${api}/events`);
    es.addEventListener("cart", (e) => {
      const v = JSON.parse(e.data);
      if (resync) { view.version = -1; resync = false; }
      render(v);
    });
    es.addEventListener("problem", (e) => say(e.data, "bad"));
    const live = (ok) => {
      const c = $("conn");
      c.className = ok ? "badge ok" : "badge bad";
      c.textContent = ok ? S.live : S.offline;
      $("cashier").dataset.live = ok ? "yes" : "no";
    };
    es.onopen = () => live(true);
    es.onerror = () => { resync = true; live(false); };
  }

  render(view);
  connect();
  focusScan();
})();

// Attendance (考勤): the 打卡 button opens a dialog where anyone clocks in or out with their own
// staff id and PIN (POST /api/v1/attendance/clock-in|clock-out), whoever is signed in at the lane.
(function () {
  const $ = (id) => document.getElementById(id);
  const btn = $("clock-btn");
  const d = $("clock-dialog");
  if (!btn || !d) return;
  const zh = document.documentElement.lang === "zh-CN";
  const two = (n) => String(n).padStart(2, "0");
  btn.addEventListener("click", () => {
    $("clock-error").textContent = "";
    $("clock-done").textContent = "";
    $("clock-staff").value = "";
    $("clock-pin").value = "";
    d.showModal();
    $("clock-staff").focus();
  });
  $("clock-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const dir = e.submitter && e.submitter.dataset.clock === "out" ? "out" : "in";
    $("clock-error").textContent = "";
    $("clock-done").textContent = "";
    const res = await sh.post(`/api/v1/attendance/clock-${dir}`, { staff: $("clock-staff").value.trim(), pin: $("clock-pin").value });
    $("clock-pin").value = "";
    if (!res.ok) {
      $("clock-error").textContent = (res.body && res.body.message) || `HTTP ${res.status}`;
      return;
    }
    const r = res.body;
    // Shop time (the hub's [store].timezone), whatever zone the till's browser is set to.
    const t = new Date(dir === "in" ? r.clock_in : r.clock_out);
    let hm;
    try {
      hm = new Intl.DateTimeFormat("en-GB", { timeZone: d.dataset.tz, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(t);
    } catch (_) {
      hm = `${two(t.getHours())}:${two(t.getMinutes())}`;
    }
    $("clock-done").textContent = dir === "in" ? (zh ? `${r.staff} 上班打卡 ${hm}` : `${r.staff} clocked in at ${hm}`) : (zh ? `${r.staff} 下班打卡 ${hm}` : `${r.staff} clocked out at ${hm}`);
    $("clock-staff").value = "";
  });
})();
