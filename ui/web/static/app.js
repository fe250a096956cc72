// Minimal kiosk page for the core daemon: catalog -> method -> live status over the
// WebSocket protocol v1 (docs/api.md). The full customer UI is built on the same API.
"use strict";
const app = document.getElementById("app");
const banners = document.getElementById("banners");
const state = { status: null, session: null, qr: {}, lastSeq: Number(sessionStorage.getItem("lastSeq") || 0), ws: null, nextId: 1, waiting: {} };

const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else if (v !== false && v != null) e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
};
const brl = (c) => (c / 100).toLocaleString("pt-BR", { style: "currency", currency: "BRL" });
const methodName = { pix: "Pix", credit: "Crédito", debit: "Débito" };

function send(msg) {
  return new Promise((resolve) => {
    const id = String(state.nextId++);
    state.waiting[id] = resolve;
    state.ws.send(JSON.stringify({ ...msg, id }));
  });
}

function connect() {
  const ws = new WebSocket(`ws://${location.host}/ws`);
  state.ws = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: "hello", id: "h", since: state.lastSeq }));
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === "reply" && state.waiting[m.id]) { state.waiting[m.id](m); delete state.waiting[m.id]; return; }
    if (m.type === "hello") { refreshStatus(); resumeSession(); return; }
    if (m.type === "reset") { state.lastSeq = m.last_seq || 0; resumeSession(); return; }
    if (m.type === "event") {
      state.lastSeq = m.seq; sessionStorage.setItem("lastSeq", m.seq);
      if (m.event === "health.changed") refreshStatus();
      if (m.event === "pix.qr") { state.qr[m.payload.txid] = m.payload; if (state.session && m.session_id === state.session.id) render(); }
      if (m.event.startsWith("session.") && m.event !== "session.note" && state.session && m.session_id === state.session.id) {
        if (m.payload.version >= state.session.version) { state.session = m.payload; render(); }
      }
    }
  };
  ws.onclose = () => setTimeout(connect, 1000);
}

async function refreshStatus() {
  const r = await fetch("/api/v1/status");
  state.status = await r.json();
  renderBanners();
  if (!state.session) render();
}

async function resumeSession() {
  const id = sessionStorage.getItem("session");
  if (!id) return render();
  const r = await fetch(`/api/v1/sessions/${id}`);
  if (r.ok) state.session = await r.json(); else sessionStorage.removeItem("session");
  render();
}

function renderBanners() {
  banners.replaceChildren(...(state.status?.health || []).map((c) => el("div", { class: `banner ${c.severity}`, "data-testid": "device-banner" }, c.message)));
  document.getElementById("footer").textContent = `${state.status?.kiosk_id || ""} · totemd ${state.status?.version || ""}${state.status?.demo ? " · demonstração" : ""}`;
}

async function choose(p) {
  const r = await send({ type: "session.create", items: [{ sku: p.sku, name: p.name, unit_cents: p.price_cents, qty: 1 }] });
  if (!r.ok) return showError(r.error);
  state.session = r.data; sessionStorage.setItem("session", r.data.id); render();
}

async function pay(method) {
  const r = await send({ type: "session.pay", session_id: state.session.id, method });
  if (!r.ok) return showError(r.error);
  state.session = r.data; render();
}

async function cancel() {
  const r = await send({ type: "session.cancel", session_id: state.session.id });
  if (!r.ok) return showError(r.error);
  state.session = r.data; render();
}

function restart() { state.session = null; sessionStorage.removeItem("session"); render(); }

function showError(e) { app.replaceChildren(el("h1", { class: "bad", "data-testid": "result-error" }, e.message), el("button", { onclick: render }, "Voltar")); }

function render() {
  const s = state.session, st = state.status;
  if (!st) return;
  if (!s) {
    app.replaceChildren(el("h1", {}, "Escolha o serviço"),
      el("div", { class: "grid" }, st.catalog.map((p) => el("button", { class: "card", "data-testid": "service-item", onclick: () => choose(p) },
        el("div", {}, p.name), el("div", { class: "price" }, p.price)))));
    return;
  }
  const a = s.attempts[s.attempts.length - 1];
  const head = el("h1", {}, `${s.items.map((i) => i.name).join(", ")} — ${s.total}`);
  switch (s.state) {
  case "open": {
    const methods = st.methods.map((m) => el("button", { class: "primary", "data-testid": `pay-${m.method}`, disabled: !m.available, title: m.problem?.message, onclick: () => pay(m.method) }, methodName[m.method]));
    app.replaceChildren(head, s.problem ? el("p", { class: "bad" }, s.problem.message) : "", el("p", {}, "Como deseja pagar?"),
      el("div", { class: "grid" }, methods), el("button", { "data-testid": "cancel", onclick: cancel }, "Cancelar"));
    return;
  }
  case "paying":
    if (a.method === "pix") {
      const pix = a.pix || {};
      const kids = [head, el("p", {}, pix.brcode ? "Pague com o Pix copia e cola:" : "Gerando cobrança Pix…")];
      if (pix.brcode) {
        const qr = state.qr[pix.txid];
        if (qr) kids.push(el("img", { class: "qr", "data-testid": "pix-qr", src: qr.png, alt: "QR Code Pix" }));
        else fetch(`/api/v1/sessions/${s.id}/pix`).then((r) => r.ok && r.json()).then((q) => { if (q) { state.qr[q.txid] = q; render(); } });
        kids.push(el("div", { class: "brcode", "data-testid": "pix-copy" }, pix.brcode));
        kids.push(el("p", { class: "muted" }, `Válido até ${new Date(pix.expires_at).toLocaleTimeString("pt-BR")}`));
        if (st.demo) kids.push(el("button", { "data-testid": "demo-pay", onclick: () => fetch(`/api/v1/demo/pix/${pix.txid}/pay`, { method: "POST" }) }, "simular pagamento"));
      }
      kids.push(el("button", { "data-testid": "cancel", onclick: cancel }, "Cancelar"));
      app.replaceChildren(...kids);
    } else {
      app.replaceChildren(head, el("p", {}, a.message || "Siga as instruções do PIN pad."));
    }
    return;
  case "paid":
    app.replaceChildren(head, el("h1", { class: "ok" }, "Pagamento aprovado"), el("p", {}, s.problem ? s.problem.message : "Imprimindo seu ticket…"));
    return;
  case "fulfilled":
    app.replaceChildren(el("h1", { class: "ok", "data-testid": "result-success" }, "Retire seu ticket"), el("div", { class: "price" }, s.ticket),
      st.demo ? el("img", { class: "paper", alt: "Ticket impresso (impressora simulada)", src: `/api/v1/demo/printer/jobs/last.png?v=${s.version}` }) : "",
      el("button", { class: "primary", onclick: restart }, "Nova compra"));
    return;
  default:
    app.replaceChildren(el("h1", { class: "bad", "data-testid": "result-error" }, s.problem?.message || `Compra ${s.state}`),
      el("button", { class: "primary", onclick: restart }, "Nova compra"));
  }
}

connect();
