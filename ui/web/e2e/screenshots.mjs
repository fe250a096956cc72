// Copies the main screenshots of the last test run (artifacts/) into docs/screenshots/ at half
// size, scaled by chromium itself so no image tool is needed. Run after the tests:
//   node screenshots.mjs        (make screenshots does both)
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import path from "node:path";
import { artifacts, repoRoot, launchBrowser } from "./harness.mjs";

const MAIN = ["portrait-catalog", "portrait-pix", "portrait-card", "portrait-success", "portrait-declined", "landscape-paper-out"];
const out = path.join(repoRoot, "docs", "screenshots");
mkdirSync(out, { recursive: true });

const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  for (const name of MAIN) {
    const src = path.join(artifacts, `${name}.png`);
    if (!existsSync(src)) throw new Error(`${src} is missing: run the browser tests first (make test-browser)`);
    const dataURL = `data:image/png;base64,${readFileSync(src).toString("base64")}`;
    const half = await page.evaluate(async (url) => {
      const img = new Image();
      img.src = url;
      await img.decode();
      const c = document.createElement("canvas");
      c.width = Math.round(img.naturalWidth / 2);
      c.height = Math.round(img.naturalHeight / 2);
      const g = c.getContext("2d");
      g.imageSmoothingQuality = "high";
      g.drawImage(img, 0, 0, c.width, c.height);
      return c.toDataURL("image/png");
    }, dataURL);
    const file = path.join(out, `${name}.png`);
    writeFileSync(file, Buffer.from(half.split(",")[1], "base64"));
    console.log(`${path.relative(repoRoot, file)}`);
  }
} finally {
  await browser.close();
}
