// The kiosk's customer flow in a real browser (Debian's chromium) against a real
// `totemd run --demo`: every test has its own daemon, state dir and browser context.
// Run: make test-browser (or: npm ci && node --test kiosk.test.mjs, here).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { buildDaemon, startDaemon, launchBrowser, openKiosk, shot, until } from "./harness.mjs";

let browser;
before(async () => {
  buildDaemon();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

// kiosk runs fn with a fresh daemon and page, and always cleans up.
async function kiosk(name, opts, fn) {
  const daemon = await startDaemon(name, { payment: opts.payment });
  let k;
  try {
    k = await openKiosk(browser, daemon, opts);
    await fn({ page: k.page, daemon, k });
  } finally {
    try {
      await k?.close();
    } finally {
      await daemon.stop();
    }
  }
}

const id = (page, testid) => page.getByTestId(testid);

// choose goes from the attract screen to the payment methods with one service in the cart.
async function choose(page, sku, { shots = false } = {}) {
  await id(page, "attract").click();
  await id(page, "service-item").first().waitFor();
  if (shots) await shot(page, "catalog", { landscape: true });
  await page.locator(`[data-testid="service-item"][data-sku="${sku}"]`).click();
  await id(page, "checkout").waitFor();
}

async function checkout(page) {
  await id(page, "checkout").click();
  await id(page, "pay-pix").waitFor();
}

async function sessionId(page) {
  return page.evaluate(() => sessionStorage.getItem("totem.session"));
}

test("Pix paid: attract, catalog, review, method, QR, simulated payment, ticket printed", { timeout: 60000 }, async () => {
  await kiosk("pix-paid", {}, async ({ page, daemon }) => {
    await id(page, "attract").waitFor();
    assert.match(await id(page, "attract").innerText(), /Toque na tela para começar/);
    await shot(page, "attract", { landscape: true });

    await choose(page, "CONSULTA", { shots: true });
    await id(page, "qty-plus").click();
    await until(async () => (await id(page, "qty").innerText()) === "2", { what: "quantity 2" });
    assert.match(await id(page, "total").innerText(), /R\$\s?300,00/);
    await shot(page, "review");

    await checkout(page);
    assert.match(await id(page, "amount").innerText(), /R\$\s?300,00/);
    for (const m of ["pix", "credit", "debit"]) assert.ok(await id(page, `pay-${m}`).isEnabled(), `pay-${m} enabled`);
    await shot(page, "method", { landscape: true });

    const jobs = await daemon.jobs();
    await id(page, "pay-pix").click();
    const qr = id(page, "pix-qr");
    await qr.waitFor();
    await until(() => qr.evaluate((img) => img.complete && img.naturalWidth > 0), { what: "QR image decoded" });
    const box = await qr.boundingBox();
    assert.ok(box.width >= 400 && box.height >= 400, `QR large enough to scan: ${box.width}x${box.height}`);

    const s = await daemon.session(await sessionId(page));
    const a = s.attempts.at(-1);
    assert.equal(a.state, "active");
    assert.ok((await id(page, "pix-copy").innerText()).includes(a.pix.brcode), "copia-e-cola shows the BR Code");
    assert.match(await id(page, "countdown").innerText(), /Expira em \d+:\d\d/);
    await id(page, "pix-copy").click();
    await until(async () => (await id(page, "pix-copy").innerText()).includes("Código copiado"), { what: "copied" });
    await shot(page, "pix", { landscape: true });

    await id(page, "demo-pay").click();
    await id(page, "result-success").waitFor();
    assert.match(await id(page, "result-success").innerText(), /Pagamento aprovado\. Retire seu ticket\./);
    assert.match(await id(page, "ticket-number").innerText(), /^A\d{3}$/);
    assert.equal(await id(page, "ticket-number").innerText(), (await daemon.session(s.id)).ticket);
    assert.ok((await daemon.jobs()) > jobs, "the printer printed the ticket");
    await until(() => page.locator("img.paper").evaluate((img) => img.complete && img.naturalWidth > 0), { what: "printed ticket image" });
    await shot(page, "success", { landscape: true });

    await id(page, "done").click();
    await id(page, "attract").waitFor();
    assert.equal(await sessionId(page), null, "the finished session is forgotten");
  });
});

test("card approved: the PIN pad's messages, then the ticket", { timeout: 60000 }, async () => {
  await kiosk("card-approved", {}, async ({ page, daemon }) => {
    await choose(page, "RETORNO");
    await checkout(page);
    const jobs = await daemon.jobs();
    await id(page, "pay-credit").click();
    const msg = id(page, "card-message");
    await msg.waitFor();
    assert.notEqual((await msg.innerText()).trim(), "");
    // The sale takes ~2 s in the demo: what follows checks the card screen only while it is
    // there, never assuming the PIN pad is slower than the test.
    await shot(page, "card", { landscape: true, screen: "card" });
    const s = await daemon.session(await sessionId(page));
    if (s.state === "paying") assert.ok(["requested", "approved"].includes(s.attempts.at(-1).state));

    // Cancelling while the card is in the PIN pad is refused, and said so. The click happens in
    // the page, atomically with the check that the card screen is still shown.
    const { clicked, spinner } = await page.evaluate(() => {
      const b = document.body.dataset.screen === "card" && document.querySelector('[data-testid="cancel"]');
      const spinner = Boolean(b && document.querySelector("main .spinner"));
      if (b) b.click();
      return { clicked: Boolean(b), spinner };
    });
    if (clicked) {
      assert.ok(spinner, "a spinner while the PIN pad works");
      const outcome = await Promise.race([
        id(page, "notice").waitFor().then(() => "notice", () => ""),
        id(page, "result-success").waitFor().then(() => "success", () => ""),
      ]);
      // (Approved meanwhile: the server says the payment was received.)
      if (outcome === "notice") assert.match(await id(page, "notice").innerText(), /PIN pad|já foi recebido/);
    }

    await id(page, "result-success").waitFor();
    assert.match(await id(page, "ticket-number").innerText(), /^R\d{3}$/);
    assert.ok((await daemon.jobs()) > jobs, "the printer printed the ticket");
    const sid = await sessionId(page);
    assert.equal((await daemon.session(sid)).state, "fulfilled");
    // The attempt becomes confirmed once the TEF manager acknowledged the confirmation (CNF),
    // which may come just after the ticket.
    await until(async () => (await daemon.session(sid)).attempts.at(-1).state === "confirmed", { what: "card attempt confirmed" });
  });
});

test("card declined, then another way: Pix", { timeout: 60000 }, async () => {
  await kiosk("card-declined", {}, async ({ page, daemon }) => {
    await choose(page, "TESTE-NEGADO");
    await checkout(page);
    assert.match(await id(page, "amount").innerText(), /10,51/);
    await id(page, "pay-debit").click();

    const result = id(page, "result-error");
    await result.waitFor();
    assert.equal(await result.getAttribute("data-result"), "declined");
    const s = await daemon.session(await sessionId(page));
    assert.equal(s.state, "open");
    assert.equal(s.attempts.at(-1).state, "declined");
    const why = s.attempts.at(-1).message || s.problem.message;
    assert.ok((await id(page, "result-message").innerText()).includes(why), `shows the decline reason ${why}`);
    assert.ok(await id(page, "retry").isEnabled());
    await shot(page, "declined", { landscape: true });

    await id(page, "other-method").click();
    await id(page, "pay-pix").click();
    await id(page, "pix-qr").waitFor();
    await id(page, "demo-pay").click();
    await id(page, "result-success").waitFor();
    assert.match(await id(page, "ticket-number").innerText(), /^T\d{3}$/);
    const paid = await daemon.session(s.id);
    assert.equal(paid.state, "fulfilled");
    assert.deepEqual(paid.attempts.map((a) => [a.method, a.state]), [["debit", "declined"], ["pix", "concluded"]]);
  });
});

test("card answer lost (,54): no claim that nothing was charged; the next card sale undoes it", { timeout: 60000 }, async () => {
  await kiosk("card-unknown", {}, async ({ page, daemon }) => {
    await choose(page, "TESTE-PERDIDO");
    await checkout(page);
    await id(page, "pay-credit").click();
    const result = id(page, "result-error");
    await result.waitFor();
    const s = await daemon.session(await sessionId(page));
    assert.equal(s.state, "open");
    assert.equal(s.attempts.at(-1).state, "unknown");
    const text = await result.innerText();
    assert.match(text, /Não recebemos a resposta do TEF/);
    assert.doesNotMatch(text, /Nenhum valor foi cobrado/, "an unknown outcome must not claim nothing was charged");
    await shot(page, "card-unknown");

    // The customer pays with Pix instead.
    await id(page, "other-method").click();
    await id(page, "pay-pix").click();
    await id(page, "pix-qr").waitFor();
    await id(page, "demo-pay").click();
    await id(page, "result-success").waitFor();
    await id(page, "done").click();

    // The next customer's card sale: the TEF manager refuses it while the lost sale is
    // pending, totemd undoes that one (NCN) and the sale goes through.
    await choose(page, "RETORNO");
    await checkout(page);
    await id(page, "pay-debit").click();
    await id(page, "result-success").waitFor();
    await until(async () => (await daemon.session(s.id)).attempts[0].state === "undone", { what: "the lost sale undone" });
  });
});

test("card partial approval (,56): not used, the customer told the money goes back; staff closes it", { timeout: 60000 }, async () => {
  await kiosk("card-partial", {}, async ({ page, daemon }) => {
    await choose(page, "TESTE-PARCIAL");
    await checkout(page);
    const jobs = await daemon.jobs();
    await id(page, "pay-credit").click();
    const result = page.locator('[data-testid="result-error"]');
    await result.waitFor();
    const text = await result.innerText();
    assert.match(text, /Pagamento não utilizado/);
    assert.match(text, /estornado/);
    assert.match(text, /R\$\s?10,55/);
    assert.doesNotMatch(text, /Nenhum valor foi cobrado/, "the money was taken: never claim otherwise");
    await shot(page, "card-partial", { screen: "failed" });
    const sid = await sessionId(page);
    const s = await daemon.session(sid);
    assert.equal(s.state, "open");
    assert.equal(s.attempts[0].state, "confirmed");
    assert.equal(s.attempts[0].problem.code, "tef.cancel_needed");
    assert.equal(await daemon.jobs(), jobs, "no ticket for a sale of another amount");
    const pending = await daemon.api("GET", "/api/v1/tef/pending");
    assert.deepEqual(pending.pending.map((p) => [p.session_id, p.problem, p.actions.join()]), [[sid, "tef.cancel_needed", "close"]]);
    // The customer pays another way.
    await id(page, "other-method").click();
    await id(page, "pay-pix").click();
    await id(page, "pix-qr").waitFor();
    await id(page, "demo-pay").click();
    await id(page, "result-success").waitFor();
    // Staff cancelled the sale at the TEF manager and closes it.
    const closed = await daemon.api("POST", `/api/v1/tef/pending/${sid}/1`, { action: "close" });
    assert.equal(closed.attempts[0].problem.code, "tef.cancelled");
  });
});

test("printer out of paper: banner, methods disabled, payment refused, nothing charged; refilled: paid", { timeout: 60000 }, async () => {
  await kiosk("paper-out", {}, async ({ page, daemon }) => {
    await id(page, "attract").waitFor();
    const jobs = await daemon.jobs();
    await daemon.paperOut(true);
    const banner = id(page, "device-banner");
    await banner.waitFor();
    assert.match(await banner.innerText(), /papel/i);
    await shot(page, "paper-out-attract");

    await id(page, "attract").click();
    await id(page, "payments-blocked").waitFor();
    await page.locator('[data-testid="service-item"][data-sku="EXAME-SANGUE"]').click();
    await checkout(page);
    for (const m of ["pix", "credit", "debit"]) assert.ok(await id(page, `pay-${m}`).isDisabled(), `pay-${m} disabled`);
    assert.match(await id(page, "method-reason").first().innerText(), /papel/i);
    await shot(page, "paper-out", { landscape: true });

    // A page whose status is stale (methods still shown available) is refused by the server
    // before anything is charged, and says so.
    await page.route("**/api/v1/status", async (route) => {
      const st = await daemon.api("GET", "/api/v1/status");
      st.methods = st.methods.map((m) => ({ method: m.method, available: true }));
      await route.fulfill({ json: st });
    });
    await page.reload();
    await id(page, "pay-pix").waitFor();
    await until(() => id(page, "pay-pix").isEnabled(), { what: "stale page offers Pix" });
    await id(page, "pay-pix").click();
    const notice = id(page, "notice");
    await notice.waitFor();
    assert.match(await notice.getAttribute("data-code"), /^printer\./);
    assert.match(await notice.innerText(), /Nenhum valor foi cobrado/);
    const s = await daemon.session(await sessionId(page));
    assert.equal(s.state, "open");
    assert.equal(s.attempts.length, 0, "no payment attempt was made");
    assert.equal(await daemon.jobs(), jobs, "nothing printed");
    await page.unroute("**/api/v1/status");

    await daemon.paperOut(false);
    await until(async () => (await id(page, "device-banner").count()) === 0, { what: "banner cleared" });
    await until(() => id(page, "pay-pix").isEnabled(), { what: "Pix available again" });
    await id(page, "pay-pix").click();
    await id(page, "pix-qr").waitFor();
    await id(page, "demo-pay").click();
    await id(page, "result-success").waitFor();
    assert.ok((await daemon.jobs()) > jobs);
  });
});

test("reload in the middle of a Pix payment: the QR comes back, payment completes", { timeout: 60000 }, async () => {
  await kiosk("reload", {}, async ({ page, daemon }) => {
    await choose(page, "CONSULTA");
    await checkout(page);
    await id(page, "pay-pix").click();
    await id(page, "pix-qr").waitFor();
    const sid = await sessionId(page);
    const before = await id(page, "pix-qr").getAttribute("src");

    await page.reload();
    await id(page, "pix-qr").waitFor();
    assert.equal(await sessionId(page), sid, "same session after the reload");
    assert.equal(await id(page, "pix-qr").getAttribute("src"), before, "same QR after the reload");
    await id(page, "demo-pay").click();
    await id(page, "result-success").waitFor();
    assert.equal((await daemon.session(sid)).state, "fulfilled");
  });
});

test("dropped WebSocket: the page reconnects and resumes from its last event", { timeout: 60000 }, async () => {
  await kiosk("ws-drop", {}, async ({ page, daemon }) => {
    await choose(page, "RETORNO");
    await checkout(page);
    await id(page, "pay-pix").click();
    await id(page, "pix-qr").waitFor();
    const sid = await sessionId(page);
    const txid = (await daemon.session(sid)).attempts.at(-1).pix.txid;
    // Drop the socket and pay while the page is not listening: the events come on resume.
    await page.evaluate(() => { window.__wsBefore = ws; ws.close(); });
    await daemon.api("POST", `/api/v1/demo/pix/${txid}/pay`, {});
    await id(page, "result-success").waitFor();
    assert.ok(await page.evaluate(() => ws !== null && ws !== window.__wsBefore), "a new connection");
  });
});

test("Pix QR expires: the expired screen, nothing charged, a new QR paid", { timeout: 120000 }, async () => {
  // pix_expiry=30s, the shortest the config allows.
  await kiosk("pix-expired", { payment: { pix_expiry: "30s" } }, async ({ page, daemon }) => {
    await choose(page, "RETORNO");
    await checkout(page);
    await id(page, "pay-pix").click();
    await id(page, "pix-qr").waitFor();
    const sid = await sessionId(page);
    const left = await id(page, "countdown").textContent();
    const m = /(\d+):(\d\d)/.exec(left);
    assert.ok(m && Number(m[1]) * 60 + Number(m[2]) <= 30, `countdown ${left}`);
    await page.locator('[data-testid="result-error"][data-result="expired"]').waitFor({ timeout: 60000 });
    assert.equal(await id(page, "result-message").textContent(), "O prazo para pagar este QR Code terminou.");
    await shot(page, "pix-expired", { screen: "failed" });
    const s = await daemon.session(sid);
    assert.equal(s.state, "open", "the customer may try again");
    assert.equal(s.attempts[0].state, "expired");
    assert.equal(await daemon.jobs(), 0, "nothing printed");
    await id(page, "retry").click();
    await until(async () => (await daemon.session(sid)).attempts.length === 2, { what: "a second attempt" });
    await id(page, "pix-qr").waitFor();
    await id(page, "demo-pay").click();
    await id(page, "result-success").waitFor();
    const done = await daemon.session(sid);
    assert.equal(done.state, "fulfilled");
    assert.deepEqual(done.attempts.map((a) => a.state), ["expired", "concluded"]);
  });
});

test("customer cancels on the Pix screen: cancelled, then back to the attract screen", { timeout: 60000 }, async () => {
  // result_idle=4: the result screen goes back to the start by itself after 4 s.
  await kiosk("cancel", { query: "?result_idle=4" }, async ({ page, daemon }) => {
    await choose(page, "EXAME-SANGUE");
    await checkout(page);
    await id(page, "pay-pix").click();
    await id(page, "pix-qr").waitFor();
    const sid = await sessionId(page);
    await id(page, "cancel").click();
    await page.locator('[data-testid="result-error"][data-result="cancelled"] [data-testid="result-cancelled"]').waitFor();
    await shot(page, "cancelled", { landscape: true, screen: "cancelled" });
    const s = await daemon.session(sid);
    assert.equal(s.state, "cancelled");
    assert.equal(s.attempts.at(-1).state, "removed", "the charge was removed at the PSP");
    await id(page, "attract").waitFor();
    assert.equal(await sessionId(page), null);
  });
});

test("a seq this journal never had (reset): the page reloads what it shows and goes on", { timeout: 60000 }, async () => {
  await kiosk("reset", {}, async ({ page, daemon }) => {
    await choose(page, "RETORNO");
    await checkout(page);
    await id(page, "pay-pix").click();
    await id(page, "pix-qr").waitFor();
    const sid = await sessionId(page);
    await page.evaluate(() => sessionStorage.setItem("totem.lastSeq", "999999999"));
    await page.reload();
    await id(page, "pix-qr").waitFor();
    // After the reset the page follows the log from the server's last seq again.
    await until(() => page.evaluate(() => Number(sessionStorage.getItem("totem.lastSeq")) < 999999999), { what: "seq reset" });
    await id(page, "demo-pay").click();
    await id(page, "result-success").waitFor();
    assert.equal((await daemon.session(sid)).state, "fulfilled");
  });
});

test("idle on the method screen: the open session is cancelled, back to the attract screen", { timeout: 60000 }, async () => {
  // idle=3: three seconds without a touch on a screen where nothing is under way.
  await kiosk("idle", { query: "?idle=3" }, async ({ page, daemon }) => {
    await choose(page, "CONSULTA");
    await checkout(page);
    const sid = await sessionId(page);
    await id(page, "attract").waitFor();
    await until(async () => (await daemon.session(sid)).state === "cancelled", { what: "session cancelled" });
    assert.equal(await sessionId(page), null);
  });
});

test("keyboard: the whole purchase up to the payment methods without a pointer", { timeout: 60000 }, async () => {
  await kiosk("keyboard", {}, async ({ page }) => {
    await id(page, "attract").focus();
    await page.keyboard.press("Enter");
    await id(page, "service-item").first().waitFor();
    await id(page, "service-item").first().focus();
    await page.keyboard.press("Enter");
    await id(page, "checkout").waitFor();
    await id(page, "checkout").focus();
    await page.keyboard.press("Space");
    await id(page, "pay-pix").waitFor();
    const focusVisible = await id(page, "pay-pix").evaluate((b) => { b.focus(); return getComputedStyle(b).outlineStyle; });
    assert.notEqual(focusVisible, "none", "focus is visible");
    assert.equal(await page.locator("#announce").innerText(), "Como deseja pagar?");
  });
});
