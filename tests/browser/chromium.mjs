// chromium.mjs: Debian's Chromium, headless, as every browser test and the demo start it
// (playwright-core from web/package-lock.json). `extra`: more command-line switches.
import { chromium } from '../../web/node_modules/playwright-core/index.mjs';

export const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export const launch = (extra = []) =>
  chromium.launch({ executablePath: '/usr/bin/chromium', args: [...ARGS, ...extra] });
