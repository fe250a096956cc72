// The kiosk page: attract -> catalog -> review -> payment method -> Pix or card -> result,
// in pt-BR, on the local API v1 (docs/api.md): REST for commands, the WebSocket for events.
// Screens are drawn from one state object; docs/ui.md describes them and their test ids.
// Plain JavaScript, no build step, no network beyond the daemon that serves this page.
"use strict";

// ---- settings -------------------------------------------------------------------------
// Idle timeouts in seconds, overridable in the URL (?idle=60&result_idle=15) for tests and
// for kiosks that want other values.
const params = new URLSearchParams(location.search);
const seconds = (name, def) => {
  const n = Number(params.get(name));
  return Number.isFinite(n) && n > 0 ? Math.min(n, 3600) : def;
};
const IDLE_MS = seconds("idle", 60) * 1000;               // catalog, review, method, failed payment
const RESULT_IDLE_MS = seconds("result_idle", 15) * 1000; // approved, cancelled, expired, error

const KEY = { session: "totem.session", seq: "totem.lastSeq", cart: "totem.cart", screen: "totem.screen", ack: "totem.ack" };

const METHOD = {
  pix: { label: "Pix", icon: "pix", hint: "QR Code no celular" },
  credit: { label: "Crédito", icon: "cartao", hint: "Cartão de crédito à vista" },
  debit: { label: "Débito", icon: "cartao", hint: "Cartão de débito" },
};
const ICONS = new Set(["ticket", "consulta", "exame", "retorno", "vacina", "documento", "estacionamento", "pix", "cartao"]);

// ---- state ----------------------------------------------------------------------------
const store = {
  get: (k) => { try { return sessionStorage.getItem(k); } catch { return null; } },
  set: (k, v) => { try { if (v == null) sessionStorage.removeItem(k); else sessionStorage.setItem(k, String(v)); } catch { /* private mode */ } },
};
const savedSeq = store.get(KEY.seq);
const state = {
  status: null,      // GET /api/v1/status
  skew: 0,           // server clock - local clock, ms
  screen: store.get(KEY.screen) || "attract", // attract | catalog | review | method, while no session
  cart: parseJSON(store.get(KEY.cart)) || [], // [{sku, qty}] before the session exists
  session: null,     // the session on screen
  ack: Number(store.get(KEY.ack) || 0), // failed attempt the customer already saw (chose another way)
  qr: {},            // txid -> pix.qr payload
  notice: null,      // {message, code} shown on the current screen until it changes
  busy: false,       // a command is under way: actions are disabled
  copied: "",        // txid whose copia-e-cola was copied
  ready: false,      // the status and the stored session are loaded: screens can be drawn
  offlineShown: false, // the WebSocket has been down long enough to say so
  lastSeq: savedSeq == null ? null : Number(savedSeq),
};

function parseJSON(s) { try { return s ? JSON.parse(s) : null; } catch { return null; } }

// ---- DOM helpers ----------------------------------------------------------------------
const app = document.getElementById("app");
const banners = document.getElementById("banners");
const announcer = document.getElementById("announce");

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "testid") e.dataset.testid = v;
    else if (v !== false && v != null) e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat(Infinity)) {
    if (k == null || k === false || k === "") continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

function icon(name, cls = "icon") {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", cls);
  svg.setAttribute("aria-hidden", "true");
  const use = document.createElementNS(ns, "use");
  use.setAttribute("href", `icons.svg#${name}`);
  svg.append(use);
  return svg;
}

function button(label, onclick, attrs = {}) {
  return el("button", { type: "button", onclick, disabled: state.busy && !attrs.always, ...attrs, always: null }, label);
}

const money = new Intl.NumberFormat("pt-BR", { style: "currency", currency: "BRL" });
const brl = (cents) => money.format(cents / 100);

// ---- talking to totemd ----------------------------------------------------------------
class APIError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(method, path, body) {
  const opt = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    opt.headers["Content-Type"] = "application/json";
    opt.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(path, opt);
  } catch {
    throw new APIError(0, "network", "Sem conexão com o sistema do totem. Tente novamente em instantes.");
  }
  const data = await r.json().catch(() => null);
  if (!r.ok) throw new APIError(r.status, data?.code || `http.${r.status}`, data?.message || `Erro ${r.status}. Tente novamente.`);
  return data;
}

let statusTimer = 0;
async function refreshStatus() {
  clearTimeout(statusTimer);
  try {
    const before = Date.now();
    const st = await api("GET", "/api/v1/status");
    state.skew = Date.parse(st.time) - (before + Date.now()) / 2 || 0;
    state.status = st;
    if (state.lastSeq == null) saveSeq(st.last_seq);
    render();
  } catch { /* the banner says we are offline; try again below */ }
  statusTimer = setTimeout(refreshStatus, state.status ? 30000 : 2000);
}

// Refreshes the status soon, once, however many events asked for it.
let statusSoon = 0;
function refreshStatusSoon() {
  if (statusSoon) return;
  statusSoon = setTimeout(() => { statusSoon = 0; refreshStatus(); }, 100);
}

function saveSeq(seq) {
  state.lastSeq = seq;
  store.set(KEY.seq, seq);
}

// setSession shows s unless what is on screen is newer (events and replies may cross).
function setSession(s) {
  if (!s) return;
  const cur = state.session;
  if (cur && cur.id === s.id && s.version < cur.version) return;
  state.session = s;
  store.set(KEY.session, s.id);
  render();
}

async function reloadSession() {
  const id = store.get(KEY.session);
  if (!id) return;
  try {
    const s = await api("GET", `/api/v1/sessions/${encodeURIComponent(id)}`);
    if (store.get(KEY.session) === id) setSession(s); // not finished meanwhile
  } catch (e) {
    if (e.code === "session.not_found" && store.get(KEY.session) === id) finish();
  }
}

async function loadQR(s) {
  const a = current(s);
  if (!a?.pix?.txid || state.qr[a.pix.txid] || loadQR.pending === a.pix.txid) return;
  loadQR.pending = a.pix.txid;
  try {
    const q = await api("GET", `/api/v1/sessions/${encodeURIComponent(s.id)}/pix`);
    if (state.session?.id !== s.id) return;
    state.qr[q.txid] = q;
    render();
  } catch { /* no active charge any more: the session event follows */ } finally {
    loadQR.pending = "";
  }
}

// ---- WebSocket: events, resumed from the last seq -------------------------------------
let ws = null;
let backoff = 500;
let offlineTimer = 0;

function connect() {
  const sock = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  ws = sock;
  sock.onopen = async () => {
    // Without a seq of our own, start from now: replaying the whole log would show nothing new.
    if (state.lastSeq == null) await refreshStatus();
    if (ws === sock && sock.readyState === WebSocket.OPEN) sock.send(JSON.stringify({ type: "hello", id: "hello", since: state.lastSeq || 0 }));
  };
  sock.onmessage = (ev) => {
    let m;
    try { m = JSON.parse(ev.data); } catch { return; }
    if (m.type === "hello") {
      backoff = 500;
      clearTimeout(offlineTimer);
      state.offlineShown = false;
      renderBanners();
      refreshStatus();
      reloadSession();
    } else if (m.type === "reset") {
      // Our seq can no longer be served: reload what is on screen, go on from what follows.
      saveSeq(m.last_seq != null ? m.last_seq : Math.max(0, (m.first_seq || 1) - 1));
      refreshStatus();
      reloadSession();
    } else if (m.type === "event") {
      onEvent(m);
    }
  };
  sock.onclose = () => {
    if (ws !== sock) return;
    ws = null;
    // A blip is not worth a banner; a connection gone for a second and a half is.
    clearTimeout(offlineTimer);
    offlineTimer = setTimeout(() => { state.offlineShown = true; renderBanners(); }, 1500);
    setTimeout(connect, backoff + Math.random() * 250);
    backoff = Math.min(backoff * 2, 10000);
  };
}

function onEvent(m) {
  if (state.lastSeq != null && m.seq <= state.lastSeq) return; // already handled
  saveSeq(m.seq);
  const p = m.payload;
  switch (m.event) {
  case "health.changed":
    if (state.status) {
      const rest = (state.status.health || []).filter((c) => c.name !== p.name);
      state.status.health = p.active ? [...rest, p] : rest;
      renderBanners();
    }
    refreshStatusSoon(); // methods follow the devices
    break;
  case "pix.qr":
    if (state.session && m.session_id === state.session.id) {
      state.qr[p.txid] = p;
      render();
    }
    break;
  case "session.created":
  case "session.state":
  case "session.attempt":
    if (state.session && m.session_id === state.session.id) setSession(p);
    break;
  }
}

// ---- what the customer does -----------------------------------------------------------
// act runs one command at a time: buttons are disabled while it runs, its error is shown.
async function act(fn) {
  if (state.busy) return;
  state.busy = true;
  state.notice = null;
  render();
  try {
    await fn();
  } catch (e) {
    state.notice = { message: e.message, code: e.code || "" };
    if (e.code?.startsWith("printer.") || e.code === "session.price_mismatch") refreshStatus();
  } finally {
    state.busy = false;
    render();
  }
}

function go(screen) {
  state.screen = screen;
  state.notice = null;
  store.set(KEY.screen, screen);
  render();
}

function saveCart() { store.set(KEY.cart, JSON.stringify(state.cart)); }

function product(sku) { return state.status?.catalog?.find((p) => p.sku === sku); }

function cartLines() {
  return state.cart.map((l) => ({ ...l, p: product(l.sku) })).filter((l) => l.p);
}

function addToCart(p) {
  const line = state.cart.find((l) => l.sku === p.sku);
  if (line) line.qty = Math.min(99, line.qty + 1); else state.cart.push({ sku: p.sku, qty: 1 });
  saveCart();
  go("review");
}

function setQty(sku, qty) {
  state.cart = state.cart.map((l) => (l.sku === sku ? { ...l, qty: Math.min(99, qty) } : l)).filter((l) => l.qty > 0);
  saveCart();
  if (!state.cart.length) go("catalog"); else render();
}

// checkout opens the session with the items on review, then asks how to pay.
function checkout() {
  return act(async () => {
    const items = cartLines().map((l) => ({ sku: l.sku, name: l.p.name, unit_cents: l.p.price_cents, qty: l.qty }));
    if (!items.length) return go("catalog");
    const s = await api("POST", "/api/v1/sessions", { items });
    state.screen = "method";
    store.set(KEY.screen, "method");
    setSession(s);
  });
}

function pay(method) {
  return act(async () => {
    const s = state.session;
    if (!s) return;
    state.ack = current(s)?.n || 0; // what failed before is behind us
    store.set(KEY.ack, state.ack);
    const next = await api("POST", `/api/v1/sessions/${encodeURIComponent(s.id)}/pay`, { method });
    if (state.session?.id === s.id) setSession(next);
  });
}

function cancel() {
  return act(async () => {
    const s = state.session;
    if (!s) return finish();
    try {
      const next = await api("POST", `/api/v1/sessions/${encodeURIComponent(s.id)}/cancel`, {});
      if (state.session?.id === s.id) setSession(next);
    } catch (e) {
      if (e.code === "session.conflict") return reloadSession(); // it ended meanwhile: show how
      throw e;
    }
    if (s.state === "open" && !s.attempts.length) finish(); // nothing was tried: just start over
  });
}

// back from the method screen to the review: the open session is given up, the cart kept.
function backToReview() {
  return act(async () => {
    const s = state.session;
    if (s) await api("POST", `/api/v1/sessions/${encodeURIComponent(s.id)}/cancel`, {}).catch(() => null);
    forgetSession();
    go("review");
  });
}

function otherMethod() {
  state.ack = current(state.session)?.n || 0;
  store.set(KEY.ack, state.ack);
  state.notice = null;
  render();
}

async function demoPay(txid) {
  await act(() => api("POST", `/api/v1/demo/pix/${encodeURIComponent(txid)}/pay`, {}));
}

async function copyCode(a) {
  const text = a.pix.brcode;
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const t = el("textarea", { readonly: true, class: "sr-only" }, text);
    document.body.append(t);
    t.select();
    document.execCommand("copy");
    t.remove();
  }
  state.copied = a.pix.txid;
  render();
}

function forgetSession() {
  state.session = null;
  state.ack = 0;
  state.notice = null;
  state.qr = {};
  state.copied = "";
  store.set(KEY.session, null);
  store.set(KEY.ack, null);
}

// finish forgets the purchase and goes back to the attract screen.
function finish() {
  forgetSession();
  state.cart = [];
  saveCart();
  go("attract");
}

// ---- idle timeout ---------------------------------------------------------------------
let idleTimer = 0;
let idleFor = 0;

function armIdle(ms) {
  idleFor = ms;
  clearTimeout(idleTimer);
  if (ms) idleTimer = setTimeout(onIdle, ms);
}

function onIdle() {
  const s = state.session;
  // A customer who walked away leaves nothing open behind (a failed payment leaves it open).
  if (s && s.state === "open") api("POST", `/api/v1/sessions/${encodeURIComponent(s.id)}/cancel`, {}).catch(() => null);
  finish();
}

for (const ev of ["pointerdown", "keydown", "touchstart", "wheel"]) {
  document.addEventListener(ev, () => armIdle(idleFor), { capture: true, passive: true });
}

// ---- screens --------------------------------------------------------------------------
const current = (s) => (s?.attempts?.length ? s.attempts[s.attempts.length - 1] : null);
const FAILED = new Set(["declined", "aborted", "expired", "failed", "undone", "removed", "unknown"]);

// screenOf says what to show: the session decides once there is one.
function screenOf() {
  const s = state.session;
  if (!s) return state.screen;
  const a = current(s);
  switch (s.state) {
  case "open": return a && a.n > state.ack && (FAILED.has(a.state) || a.problem?.code === "tef.cancel_needed") ? "failed" : "method";
  case "paying": return a?.method === "pix" ? "pix" : "card";
  case "paid": return "printing";
  case "fulfilled": return "success";
  case "cancelled": return "cancelled";
  case "expired": return "expired";
  default: return "ended"; // paid_late, refunded
  }
}

const methods = () => state.status?.methods || [];
const available = (m) => methods().find((x) => x.method === m)?.available;
// Nothing can be paid: the reason (a printer problem, usually), or "".
function blocked() {
  const ms = methods();
  if (!ms.length || ms.some((m) => m.available)) return "";
  return ms[0].problem?.message || "Pagamentos indisponíveis no momento.";
}

function notice() {
  if (!state.notice) return null;
  return el("p", { class: "notice bad", role: "alert", testid: "notice", "data-code": state.notice.code }, icon("alerta"), state.notice.message);
}

function blockedNotice() {
  const why = blocked();
  return why ? el("p", { class: "notice bad", role: "alert", testid: "payments-blocked" }, icon("alerta"),
    `Pagamentos suspensos no momento: ${why}`) : null;
}

function heading(text, attrs = {}) {
  return el("h1", { tabindex: "-1", ...attrs }, text);
}

function summary(s) {
  return el("ul", { class: "summary" }, s.items.map((it) =>
    el("li", {}, el("span", {}, `${it.qty} × ${it.name}`), el("span", {}, brl(it.unit_cents * it.qty)))));
}

const screens = {
  attract() {
    return {
      idle: 0,
      body: [el("button", { type: "button", class: "attract", testid: "attract", onclick: () => go("catalog") },
        icon("ticket", "icon huge"),
        el("span", { class: "attract-title" }, state.status?.kiosk_name || "Autoatendimento"),
        el("span", { class: "attract-sub" }, "Toque na tela para começar"),
        el("span", { class: "attract-pay" }, "Pague com Pix, crédito ou débito"))],
      title: "Autoatendimento. Toque na tela para começar.",
    };
  },

  catalog() {
    const items = state.status?.catalog || [];
    return {
      idle: IDLE_MS,
      title: "Escolha o serviço",
      body: [
        heading("Escolha o serviço"),
        blockedNotice(),
        items.length ? el("div", { class: "catalog" }, items.map((p) => el("button", {
          type: "button", class: "service", testid: "service-item", "data-sku": p.sku, onclick: () => addToCart(p),
        }, ICONS.has(p.icon) ? icon(p.icon, "icon service-icon") : el("span", { class: "service-icon badge", "aria-hidden": "true" }, p.prefix || p.name[0]),
        el("span", { class: "service-name" }, p.name),
        el("span", { class: "price" }, brl(p.price_cents)))))
          : el("p", { class: "notice" }, "Nenhum serviço disponível neste totem."),
        el("div", { class: "actions" },
          state.cart.length ? button("Ver meu pedido", () => go("review"), { class: "primary", testid: "to-review" }) : null,
          button("Voltar ao início", finish, { testid: "home" })),
      ],
    };
  },

  review() {
    const lines = cartLines();
    const total = lines.reduce((t, l) => t + l.p.price_cents * l.qty, 0);
    return {
      idle: IDLE_MS,
      title: "Confira seu pedido",
      body: [
        heading("Confira seu pedido"),
        blockedNotice(),
        el("ul", { class: "lines" }, lines.map((l) => el("li", { class: "line", testid: "review-line", "data-sku": l.sku },
          el("span", { class: "line-name" }, l.p.name, el("small", {}, `${brl(l.p.price_cents)} cada`)),
          el("span", { class: "qty" },
            button("−", () => setQty(l.sku, l.qty - 1), { class: "round", testid: "qty-minus", "aria-label": `Diminuir quantidade de ${l.p.name}` }),
            el("output", { testid: "qty", "aria-label": `Quantidade de ${l.p.name}` }, l.qty),
            button("+", () => setQty(l.sku, l.qty + 1), { class: "round", testid: "qty-plus", "aria-label": `Aumentar quantidade de ${l.p.name}`, disabled: state.busy || l.qty >= 99 })),
          el("span", { class: "line-total" }, brl(l.p.price_cents * l.qty))))),
        el("p", { class: "total" }, "Total ", el("strong", { testid: "total" }, brl(total))),
        notice(),
        el("div", { class: "actions" },
          button("Ir para o pagamento", checkout, { class: "primary big", testid: "checkout" }),
          button("Adicionar outro serviço", () => go("catalog"), { testid: "add-more" }),
          button("Cancelar", cancel, { class: "danger", testid: "cancel" })),
      ],
    };
  },

  method() {
    const s = state.session;
    if (!s) return screens.review(); // reloaded before the session existed
    return {
      idle: IDLE_MS,
      title: "Como deseja pagar?",
      body: [
        heading("Como deseja pagar?"),
        el("p", { class: "amount" }, "Total ", el("strong", { testid: "amount" }, brl(s.total_cents))),
        blockedNotice(),
        notice(),
        el("div", { class: "methods" }, methods().map((m) => {
          const d = METHOD[m.method] || { label: m.method, icon: "cartao", hint: "" };
          const why = m.available ? "" : (m.problem?.message || "Indisponível no momento.");
          return el("button", {
            type: "button", class: "method", testid: `pay-${m.method}`, disabled: state.busy || !m.available,
            "aria-describedby": why ? `why-${m.method}` : null, onclick: () => pay(m.method),
          }, icon(d.icon, "icon method-icon"), el("span", { class: "method-name" }, d.label),
          el("span", { class: why ? "method-why" : "method-hint", id: why ? `why-${m.method}` : null, testid: why ? "method-reason" : null }, why || d.hint));
        })),
        el("div", { class: "actions" },
          s.attempts.length ? null : button("Voltar", backToReview, { testid: "back" }),
          button("Cancelar compra", cancel, { class: "danger", testid: "cancel" })),
      ],
    };
  },

  pix() {
    const s = state.session;
    const a = current(s);
    const q = a.pix?.txid ? state.qr[a.pix.txid] : null;
    if (a.state === "active" && !q) loadQR(s);
    const body = [heading("Pague com Pix"), el("p", { class: "amount" }, "Valor ", el("strong", { testid: "amount" }, brl(a.amount_cents)))];
    if (a.state !== "active" || !q) {
      body.push(el("div", { class: "spinner", role: "img", "aria-label": "Aguarde" }), el("p", { class: "status-text" }, "Gerando o QR Code…"));
    } else {
      body.push(
        el("div", { class: "pix" },
          el("img", { class: "qr", testid: "pix-qr", src: q.png, alt: "QR Code Pix para pagamento" }),
          el("div", { class: "pix-side" },
            el("ol", { class: "steps" },
              el("li", {}, "Abra o app do seu banco e escolha Pix."),
              el("li", {}, "Aponte a câmera para o QR Code ou use o Pix copia e cola."),
              el("li", {}, "Confirme o pagamento: o ticket sai logo em seguida.")),
            el("p", { class: "countdown", testid: "countdown", "data-expires": a.pix.expires_at || q.expires_at, "aria-live": "off" }, countdownText(a.pix.expires_at || q.expires_at)),
            el("button", { type: "button", class: "copy", testid: "pix-copy", onclick: () => copyCode(a) },
              el("span", { class: "copy-label" }, state.copied === a.pix.txid ? "Código copiado!" : "Copiar código Pix copia e cola"),
              el("code", { class: "brcode", testid: "pix-code" }, a.pix.brcode)),
            el("p", { class: "status-text" }, el("span", { class: "spinner small", "aria-hidden": "true" }), "Aguardando o pagamento…"))),
      );
    }
    body.push(notice(), el("div", { class: "actions" },
      state.status?.demo && a.state === "active" ? button("simular pagamento", () => demoPay(a.pix.txid), { class: "demo", testid: "demo-pay" }) : null,
      button("Cancelar", cancel, { class: "danger", testid: "cancel" })));
    return { idle: 0, title: "Pague com Pix", body };
  },

  card() {
    const s = state.session;
    const a = current(s);
    const d = METHOD[a.method] || METHOD.credit;
    return {
      idle: 0,
      title: `Pagamento no ${d.label.toLowerCase()}`,
      body: [
        heading(`Pagamento no ${d.label.toLowerCase()}`),
        el("p", { class: "amount" }, "Valor ", el("strong", { testid: "amount" }, brl(a.amount_cents))),
        icon("cartao", "icon huge"),
        el("p", { class: "pinpad", testid: "card-message", role: "status", "aria-live": "polite" }, a.message || "Siga as instruções do PIN pad."),
        el("div", { class: "spinner", role: "img", "aria-label": "Processando" }),
        notice(),
        el("div", { class: "actions" }, button("Cancelar", cancel, { class: "danger", testid: "cancel" })),
      ],
    };
  },

  printing() {
    const s = state.session;
    return {
      idle: 0,
      title: "Pagamento aprovado. Imprimindo seu ticket.",
      body: [
        icon("ok", "icon huge ok"),
        heading("Pagamento aprovado", { class: "ok" }),
        el("div", { class: "spinner", role: "img", "aria-label": "Imprimindo" }),
        el("p", { class: "status-text", testid: "printing" }, s.problem ? s.problem.message : "Imprimindo seu ticket…"),
      ],
    };
  },

  success() {
    const s = state.session;
    return {
      idle: RESULT_IDLE_MS,
      title: `Pagamento aprovado. Retire seu ticket. Ticket ${s.ticket || ""}.`,
      body: [el("section", { class: "result", testid: "result-success", "data-result": "success" },
        icon("ok", "icon huge ok"),
        heading("Pagamento aprovado. Retire seu ticket.", { class: "ok" }),
        s.ticket ? el("p", { class: "ticket" }, el("small", {}, "Seu ticket"), el("strong", { testid: "ticket-number" }, s.ticket)) : null,
        state.status?.demo ? el("figure", { class: "paper-box" },
          el("img", { class: "paper", alt: "Ticket impresso pela impressora simulada", src: `/api/v1/demo/printer/jobs/last.png?v=${s.version}` }),
          el("figcaption", { class: "muted" }, "Impressora simulada (demonstração)")) : null,
        el("div", { class: "actions" }, button("Concluir", finish, { class: "primary big", testid: "done", always: true })))],
    };
  },

  failed() {
    const s = state.session;
    const a = current(s);
    const d = METHOD[a.method] || { label: a.method };
    const titles = {
      declined: "Pagamento não aprovado",
      aborted: "Pagamento não concluído",
      expired: "O QR Code expirou",
      failed: a.method === "pix" ? "Não foi possível gerar o Pix" : "Pagamento não concluído",
      undone: "Pagamento desfeito",
      removed: "Cobrança cancelada",
      unknown: "Sem resposta do TEF",
      confirmed: "Pagamento não utilizado", // tef.cancel_needed: charged, to be given back by staff
    };
    const kind = a.state === "expired" ? "expired" : a.state === "declined" ? "declined" : "failed";
    const msg = a.message || a.problem?.message || s.problem?.message || "";
    const retryOK = available(a.method) !== false;
    return {
      idle: IDLE_MS,
      title: `${titles[a.state]}. ${msg}`,
      body: [el("section", { class: "result", testid: "result-error", "data-result": kind },
        icon(kind === "expired" ? "relogio" : "alerta", "icon huge bad"),
        heading(titles[a.state] || "Pagamento não concluído", { class: "bad", testid: `result-${kind}` }),
        msg ? el("p", { class: "reason", testid: "result-message" }, msg) : null,
        // unknown: the sale may still stand at the TEF manager until it is undone; its message
        // says so, and nothing here may claim that nothing was charged.
        a.state === "unknown" || a.state === "confirmed" ? null : el("p", {}, a.state === "undone" ? "A transação foi desfeita. Você pode tentar de novo." : "Nenhum valor foi cobrado."),
        notice(),
        el("div", { class: "actions" },
          button(a.method === "pix" ? "Gerar novo QR Code" : "Tentar novamente", () => pay(a.method), { class: "primary big", testid: "retry", disabled: state.busy || !retryOK }),
          button("Outra forma de pagamento", otherMethod, { testid: "other-method" }),
          button("Cancelar compra", cancel, { class: "danger", testid: "cancel" })),
        retryOK ? null : el("p", { class: "muted" }, `${d.label}: ${methods().find((m) => m.method === a.method)?.problem?.message || "indisponível no momento"}`))],
    };
  },

  cancelled() { return endedScreen("cancelled", "Compra cancelada", "Nenhum valor foi cobrado.", "alerta"); },
  expired() { return endedScreen("expired", "Tempo esgotado", "A compra foi encerrada. Nenhum valor foi cobrado.", "relogio"); },
  ended() {
    const s = state.session;
    const what = { paid_late: "Pagamento recebido após o encerramento", refunded: "Pagamento devolvido" }[s.state] || "Compra encerrada";
    return endedScreen("ended", what, "Procure o atendimento se precisar de ajuda.", "alerta");
  },
};

function endedScreen(kind, title, fallback, ic) {
  const s = state.session;
  const msg = s.problem?.message && s.problem.message !== `${title}.` ? s.problem.message : fallback;
  return {
    idle: RESULT_IDLE_MS,
    title: `${title}. ${msg}`,
    body: [el("section", { class: "result", testid: "result-error", "data-result": kind },
      icon(ic, "icon huge bad"),
      heading(title, { class: "bad", testid: `result-${kind}` }),
      el("p", { class: "reason", testid: "result-message" }, msg),
      el("div", { class: "actions" }, button("Voltar ao início", finish, { class: "primary big", testid: "done", always: true })))],
  };
}

// ---- drawing --------------------------------------------------------------------------
let shown = "";   // the screen on display
let drawn = "";   // what it was drawn from, to skip redrawing the same thing

function render() {
  renderBanners();
  if (!state.status || !state.ready) return;
  const name = screenOf();
  if (name !== shown) state.notice = null; // a notice belongs to the screen it was shown on
  const sc = (screens[name] || screens.attract)();
  const key = JSON.stringify([name, state.session, state.busy, state.notice, state.copied, state.cart,
    state.status.methods, state.status.catalog, state.status.demo, Object.keys(state.qr).length]);
  if (key === drawn) return;
  drawn = key;
  const f = document.activeElement;
  const focused = f?.dataset?.testid ? `[data-testid="${f.dataset.testid}"]${f.dataset.sku ? `[data-sku="${CSS.escape(f.dataset.sku)}"]` : ""}` : "";
  app.replaceChildren(...sc.body.filter(Boolean));
  app.dataset.screen = name;
  document.body.dataset.screen = name;
  if (name !== shown) {
    shown = name;
    announcer.textContent = sc.title;
    armIdle(sc.idle);
    const h = app.querySelector("h1");
    if (h) h.focus({ preventScroll: true }); else document.activeElement?.blur?.();
  } else if (focused) {
    app.querySelector(`${focused}:not(:disabled)`)?.focus({ preventScroll: true });
  }
}

function renderBanners() {
  const list = [];
  if (state.offlineShown) {
    list.push({ name: "kiosk.offline", severity: "critical", message: "Sem conexão com o sistema do totem. Reconectando…" });
  }
  for (const c of state.status?.health || []) {
    if (c.severity === "critical" || c.severity === "warning") list.push(c);
  }
  list.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === "critical" ? -1 : 1));
  const key = JSON.stringify(list.map((c) => [c.name, c.severity, c.message]));
  if (banners.dataset.key !== key) {
    banners.dataset.key = key;
    banners.replaceChildren(...list.map((c) => el("div", { class: `banner ${c.severity}`, testid: "device-banner", "data-condition": c.name },
      icon("alerta"), el("span", {}, c.message))));
  }
  const st = state.status;
  document.getElementById("footer").textContent = st ? `${st.kiosk_id} · totemd ${st.version}${st.demo ? " · modo demonstração" : ""}` : "";
}

function countdownText(expires) {
  const left = Math.max(0, Math.floor((Date.parse(expires) - Date.now() - state.skew) / 1000));
  if (!Number.isFinite(left)) return "";
  if (left === 0) return "QR Code expirado.";
  return `Expira em ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
}

setInterval(() => {
  for (const e of app.querySelectorAll("[data-expires]")) e.textContent = countdownText(e.dataset.expires);
}, 1000);

// ---- start ----------------------------------------------------------------------------
(async function start() {
  await refreshStatus();
  await reloadSession();
  state.ready = true;
  render();
  connect();
})();
