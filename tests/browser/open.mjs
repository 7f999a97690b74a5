// open.mjs: opens one label URL as a phone would (360 x 780, headless
// Chromium) and prints the verdict the page shows; the screenshot goes to
// SHOT. Exit 0 when the page reached a verdict. Used by the demo.
//
//   node open.mjs URL SHOT
import { launch } from './chromium.mjs';

const [url, shot] = process.argv.slice(2);
const browser = await launch();
const ctx = await browser.newContext({ viewport: { width: 360, height: 780 }, deviceScaleFactor: 2, locale: 'zh-CN' });
const page = await ctx.newPage();
await page.goto(url);
await page.waitForSelector('body[data-done="1"]', { timeout: 60000 });
const banner = await page.evaluate(() => document.getElementById('banner').innerText);
await page.screenshot({ path: shot, fullPage: true });
await browser.close();
console.log(banner.replace(/\n+/g, ' / '));
