// Test harness: a real `totemd run --demo` per test and Debian's chromium driven by
// playwright-core. Nothing here downloads anything: the browser is /usr/bin/chromium.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync, createWriteStream, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "../../..");
export const artifacts = process.env.ARTIFACTS_DIR || path.join(here, "artifacts");
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

export const PORTRAIT = { width: 1080, height: 1920 };
export const LANDSCAPE = { width: 1920, height: 1080 };

const tmpRoot = mkdtempSync(path.join(tmpdir(), "totemd-e2e-"));
process.on("exit", () => rmSync(tmpRoot, { recursive: true, force: true }));

let binary = process.env.TOTEMD_BIN || "";

// buildDaemon builds cmd/totemd once per test process (or uses $TOTEMD_BIN).
export function buildDaemon() {
  if (binary) return binary;
  const out = path.join(tmpRoot, "totemd");
  const go = existsSync("/usr/local/go/bin/go") && !process.env.GO ? "/usr/local/go/bin/go" : process.env.GO || "go";
  execFileSync(go, ["build", "-o", out, "./cmd/totemd"], { cwd: repoRoot, stdio: "inherit" });
  binary = out;
  return out;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// until polls fn (a condition on the system under test, never a fixed sleep) until it returns
// a truthy value, or fails after timeout ms.
export async function until(fn, { timeout = 10000, interval = 50, what = "condition" } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

// demoConfig writes configs/demo.yaml with payment options replaced (e.g. { pix_expiry: "30s" })
// into dir and returns its path.
function demoConfig(dir, payment) {
  let y = readFileSync(path.join(repoRoot, "configs", "demo.yaml"), "utf8");
  for (const [k, v] of Object.entries(payment)) {
    const re = new RegExp(`^(  ${k}:).*$`, "m");
    if (!re.test(y)) throw new Error(`configs/demo.yaml has no payment.${k} to replace`);
    y = y.replace(re, `$1 ${v}`);
  }
  const file = path.join(dir, "totemd.yaml");
  writeFileSync(file, y);
  return file;
}

// startDaemon runs `totemd run --demo` on its own state dir and loopback port; payment
// replaces options of the demo config's payment section.
export async function startDaemon(name, { payment } = {}) {
  const bin = buildDaemon();
  mkdirSync(artifacts, { recursive: true });
  for (let tries = 0; ; tries++) {
    const stateDir = mkdtempSync(path.join(tmpRoot, "state-"));
    const port = await freePort();
    const log = createWriteStream(path.join(artifacts, `${name}.daemon.log`));
    const cfg = payment ? ["--config", demoConfig(stateDir, payment)] : [];
    const proc = spawn(bin, ["run", "--demo", ...cfg, "--state-dir", stateDir, "--listen", `127.0.0.1:${port}`],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    proc.stdout.pipe(log);
    proc.stderr.pipe(log);
    let exited = null;
    const done = new Promise((resolve) => proc.on("exit", (code, sig) => { exited = { code, sig }; resolve(exited); }));
    const url = `http://127.0.0.1:${port}`;
    try {
      await until(async () => {
        if (exited) throw new Error(`totemd exited (${exited.code ?? exited.sig}); see artifacts/${name}.daemon.log`);
        const r = await fetch(`${url}/healthz`);
        return r.ok;
      }, { timeout: 20000, what: "totemd /healthz" });
    } catch (e) {
      if (exited && tries < 2) continue; // the free port was taken meanwhile: try another
      proc.kill("SIGKILL");
      throw e;
    }
    const token = readFileSync(path.join(stateDir, "api.token"), "utf8").trim();
    const d = {
      url, stateDir, proc,
      async api(method, p, body) {
        const r = await fetch(url + p, {
          method,
          headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { "Content-Type": "application/json" } : {}) },
          body: body !== undefined ? JSON.stringify(body) : undefined,
        });
        const data = await r.json().catch(() => null);
        if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(data)}`);
        return data;
      },
      jobs: async () => (await d.api("GET", "/api/v1/demo/printer/jobs")).count,
      sessions: async () => (await d.api("GET", "/api/v1/sessions?limit=100")).sessions,
      session: (id) => d.api("GET", `/api/v1/sessions/${id}`),
      paperOut: (out) => d.api("POST", "/api/v1/demo/printer", { paper_out: out }),
      async stop() {
        if (!exited) {
          proc.kill("SIGTERM");
          const t = setTimeout(() => proc.kill("SIGKILL"), 10000);
          await done;
          clearTimeout(t);
        }
        rmSync(stateDir, { recursive: true, force: true });
      },
    };
    return d;
  }
}

// launchBrowser starts Debian's chromium, headless, with a fresh temporary profile that
// playwright creates and removes.
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

// openKiosk opens the kiosk page in a new context (its own sessionStorage) and collects the
// page's uncaught errors, which fail the test.
export async function openKiosk(browser, daemon, { query = "", viewport = PORTRAIT } = {}) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, locale: "pt-BR", timezoneId: "America/Sao_Paulo" });
  context.setDefaultTimeout(15000);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(`${daemon.url}/${query}`);
  return {
    page, context, errors,
    async close() {
      await context.close();
      if (errors.length) throw new Error(`errors in the page: ${errors.map((e) => e.stack || e).join("\n")}`);
    },
  };
}

// shot writes a screenshot of the page to artifacts/<orientation>-<name>.png; with
// landscape: true it also takes one at 1920x1080 and goes back to the size it had.
// With screen, a screen that may change by itself (the card screen): the shot is only kept
// when that screen was shown before and after it.
export async function shot(page, name, { landscape = false, screen = "" } = {}) {
  mkdirSync(artifacts, { recursive: true });
  const size = page.viewportSize();
  const orient = (s) => (s.width > s.height ? "landscape" : "portrait");
  const on = async () => !screen || (await page.evaluate(() => document.body.dataset.screen)) === screen;
  const take = async (file) => {
    if (!(await on())) return false;
    const png = await page.screenshot({ animations: "disabled", caret: "hide" });
    if (!(await on())) return false;
    writeFileSync(path.join(artifacts, file), png);
    return true;
  };
  if (!(await take(`${orient(size)}-${name}.png`))) return console.log(`# screenshot ${name}: the screen changed first`);
  if (landscape) {
    await page.setViewportSize(LANDSCAPE);
    const ok = await take(`landscape-${name}.png`);
    await page.setViewportSize(size);
    if (!ok) console.log(`# screenshot landscape-${name}: the screen changed first`);
  }
}
