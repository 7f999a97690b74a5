// svg.mjs: renders a label sheet SVG in headless Chromium, as another
// renderer than the one that wrote it. Checks that every text of every
// label lies inside its label (measured by the renderer: getBBox), and
// saves a screenshot at SCALE device pixels per CSS pixel for a QR decoder.
// Prints "svg: N passed, N failed".
//
//   node svg.mjs SHEET.svg SHOT.png
import { launch } from './chromium.mjs';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [svg, shot] = process.argv.slice(2);
const browser = await launch();
// the sheet's own size (mm) as CSS pixels; 4 device pixels each, about 380 dpi
const text = readFileSync(svg, 'utf8');
const mm = (k) => Number(text.match(new RegExp(`<svg[^>]* ${k}="([0-9.]+)mm"`))[1]);
const viewport = { width: Math.ceil((mm('width') * 96) / 25.4), height: Math.ceil((mm('height') * 96) / 25.4) };
const page = await (await browser.newContext({ deviceScaleFactor: 4, viewport })).newPage();
await page.goto(pathToFileURL(svg).href);
const r = await page.evaluate(() => {
  const out = { labels: 0, texts: 0, outside: [], stroke: [] };
  for (const g of document.querySelectorAll('g[clip-path]')) {
    out.labels++;
    const frame = g.querySelector('rect').getBBox();
    for (const t of g.querySelectorAll('text')) {
      out.texts++;
      const b = t.getBBox();
      if (b.x < frame.x - 0.01 || b.x + b.width > frame.x + frame.width + 0.01 || b.y + b.height > frame.y + frame.height + 0.01)
        out.outside.push(`${t.textContent} (${(b.x + b.width - frame.x - frame.width).toFixed(2)} mm over)`);
    }
    for (const p of g.querySelectorAll('path')) if (p.getAttribute('stroke') !== 'none') out.stroke.push(p.getAttribute('stroke'));
  }
  return out;
});
await page.screenshot({ path: shot });
await browser.close();
let passed = 0, failed = 0;
const check = (name, ok, why) => { if (ok) { passed++; console.log('pass ' + name); } else { failed++; console.log('FAIL ' + name + (why ? ': ' + why : '')); } };
check(`the sheet holds labels (${r.labels})`, r.labels > 0);
check(`every text of every label stays inside it (${r.texts} texts)`, r.outside.length === 0, r.outside.join('; '));
check('every symbol is drawn with stroke="none"', r.stroke.length === 0, r.stroke.join(' '));
console.log(`svg: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
