// Drives JupyterLab in headless chromium: run every cell of 04_explore.ipynb, move the slice
// slider of the explorer, check that the slice picture changed. Called by run.sh (env: URL,
// CHROMIUM, OUT, PLAYWRIGHT). Exits non-zero with a message when a step fails.
const path = require('path');
const { chromium } = require(process.env.PLAYWRIGHT || 'playwright-core');

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

function fail(message) {
  console.error(`test-browser: FAILED: ${message}`);
  process.exitCode = 1;
}

async function idle(page, timeout) {
  // the notebook's kernel is idle and no cell is waiting to run
  await page.waitForFunction(() => {
    const app = window.jupyterapp;
    const widget = app && app.shell.currentWidget;
    const kernel = widget && widget.sessionContext && widget.sessionContext.session
      && widget.sessionContext.session.kernel;
    const busy = document.querySelectorAll('.jp-InputArea-prompt').length === 0
      || [...document.querySelectorAll('.jp-InputArea-prompt')].some(p => p.textContent.includes('*'));
    return kernel && kernel.status === 'idle' && !busy;
  }, null, { timeout, polling: 500 });
}

(async () => {
  const out = process.env.OUT;
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, headless: true, args: FLAGS });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  try {
    await page.goto(process.env.URL, { waitUntil: 'domcontentloaded', timeout: 60000 });
    await page.waitForSelector('.jp-NotebookPanel .jp-Cell', { timeout: 60000 });
    await page.waitForFunction(() => window.jupyterapp && window.jupyterapp.shell.currentWidget
      && window.jupyterapp.shell.currentWidget.sessionContext
      && window.jupyterapp.shell.currentWidget.sessionContext.session, null, { timeout: 60000 });
    await idle(page, 60000);
    await page.evaluate(() => window.jupyterapp.commands.execute('notebook:run-all-cells'));
    await page.waitForTimeout(1000);
    await idle(page, 180000);
    await page.screenshot({ path: path.join(out, 'after-run-all.png'), fullPage: true });

    const errors = await page.locator('[data-mime-type="application/vnd.jupyter.error"]').count();
    if (errors) {
      const text = await page.locator('[data-mime-type="application/vnd.jupyter.error"]').first().innerText();
      throw new Error(`a cell raised an error:\n${text}`);
    }
    const slider = page.locator('.widget-hslider', { has: page.locator('.widget-label', { hasText: /^slice$/ }) });
    await slider.waitFor({ timeout: 30000 });
    const picture = page.locator('img.widget-image').first();
    await picture.waitFor({ timeout: 30000 });
    const readout = slider.locator('.widget-readout');
    const before = { value: (await readout.innerText()).trim(), png: await picture.screenshot() };

    // move the slider from the keyboard (noUiSlider handle), three cells down
    const handle = slider.locator('.noUi-handle');
    await handle.click();
    for (let k = 0; k < 3; k++) await handle.press('ArrowLeft');
    await page.waitForFunction(
      ([old]) => {
        const s = [...document.querySelectorAll('.widget-hslider')]
          .find(e => e.querySelector('.widget-label') && e.querySelector('.widget-label').textContent.trim() === 'slice');
        return s && s.querySelector('.widget-readout').textContent.trim() !== old;
      }, [before.value], { timeout: 20000 });
    const after = { value: (await readout.innerText()).trim() };
    // the kernel redraws the slice: wait until the picture differs
    let changed = false;
    for (let k = 0; k < 60 && !changed; k++) {
      await page.waitForTimeout(500);
      after.png = await picture.screenshot();
      changed = !after.png.equals(before.png);
    }
    await page.screenshot({ path: path.join(out, 'after-slider.png'), fullPage: true });
    require('fs').writeFileSync(path.join(out, 'slice-before.png'), before.png);
    require('fs').writeFileSync(path.join(out, 'slice-after.png'), after.png);
    if (!changed) throw new Error(`slider moved ${before.value} -> ${after.value} but the picture did not change`);
    console.log(`test-browser: slice ${before.value} -> ${after.value}, the picture changed`);
  } catch (err) {
    await page.screenshot({ path: path.join(out, 'failure.png'), fullPage: true }).catch(() => {});
    fail(err.message);
  } finally {
    await browser.close();
  }
})();
