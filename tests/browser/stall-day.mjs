// stall-day.mjs: the demo's trader at her stall page (360 x 780, headless
// Chromium): she makes her key in the page, the market office enrolls it with
// the CLI, and she registers a lot from the herb dictionary and opens its
// label, all signed in the browser. Prints what happened, a line each;
// screenshots go to SHOTS. Exit 0 when the ledger holds the lot, signed by
// the key the page made. Used by the demo.
//
//   node stall-day.mjs BASE TT DIR OFFICE_KEY SHOTS
import { execFileSync } from 'node:child_process';
import { launch } from './chromium.mjs';

const [base, tt, dir, officeKey, shots] = process.argv.slice(2);
const browser = await launch();
const ctx = await browser.newContext({ viewport: { width: 360, height: 780 }, deviceScaleFactor: 2, locale: 'zh-CN' });
const page = await ctx.newPage();
const ready = (what) => page.waitForSelector(`body[data-ready="${what}"]`, { timeout: 120000 });
await page.goto(base + '/stall/');
await ready('setup');
await page.fill('#pass1', '川芎-彭州-2026');
await page.fill('#pass2', '川芎-彭州-2026');
await page.click('#make-key');
await ready('enroll');
const pub = (await page.innerText('#pubkey')).trim();
const keyCheck = (await page.innerText('#key-check')).trim();
console.log(`  the page made her key in the browser; it shows the public key as a QR code, with its check ${keyCheck}`);
await page.screenshot({ path: `${shots}/demo-stall-key.png`, fullPage: true });
const photo = `${shots}/demo-stall-key-qr.png`;
await (await page.$('#pub-qr')).screenshot({ path: photo });
const enrolled = execFileSync(tt, ['--dir', dir, '--key', officeKey, 'actor', 'enroll', '--pubkey-photo', photo, '--id', 'T-0031',
  '--name', '王福', '--org', '王氏药行', '--licence', '渝药经 2026-0518', '--role', 'trader', '--stall', '解放路 B 区 3 号'],
{ encoding: 'utf8' });
if (!enrolled.includes(keyCheck)) throw new Error('the enrolment did not read back the key check ' + keyCheck + ': ' + enrolled);
console.log('  [market office] photographs the QR: $ tcmtrace actor enroll --pubkey-photo key.png --id T-0031 --name 王福 … --role trader');
console.log(`  the office reads back the check ${keyCheck}; she compares it with her screen`);
await page.click('#recheck');
await ready('stock');
await page.click('#tab-register');
await ready('register');
await page.fill('#herb-q', 'chuanxiong');
await page.click('[data-herb="川芎"]');
await page.fill('#qty', '40斤');
for (const [id, v] of [['province', '四川省'], ['city', '成都市'], ['county', '彭州市'], ['base', '敖平镇川芎基地'],
  ['harvest', '2026-05-20'], ['grade', '统货'], ['processing', '晒干']]) await page.fill('#' + id, v);
await page.check('#daodi');
await page.click('#ok');
await page.waitForSelector('#done, #refused', { timeout: 60000 });
if (await page.$('#refused')) {
  console.log('  refused: ' + (await page.innerText('#refused')).replace(/\n+/g, ' / '));
  process.exit(1);
}
const code = (await page.innerText('#new-code')).replace(/\D/g, '');
console.log(`  she registers 川芎 40斤 (20 kg) from 彭州, picked by pinyin: trace code ${code.replace(/(\d{4})(?=\d)/g, '$1 ')}`);
await page.click('#print-new');
await page.waitForSelector('body[data-label="loaded"]', { timeout: 60000 });
await page.screenshot({ path: `${shots}/demo-stall-label.png`, fullPage: true });
await browser.close();
const b = await (await fetch(`${base}/api/v1/batches/${code}`)).json();
const e = await (await fetch(`${base}/api/v1/entries/${b.events[0].seq}`)).json();
const ok = b.batch.holder === 'T-0031' && b.batch.qty.remaining === 20000 && e.actor === pub;
console.log(ok ? `  the ledger holds it: entry #${e.seq}, signed by the key her browser made and keeps`
  : '  the ledger does not hold it as the page said');
process.exit(ok ? 0 : 1);
