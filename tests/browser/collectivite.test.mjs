// Browser tests of a budget's page across the years (/budgets/<siret>) against the running local
// portal, in Debian's Chromium: its tables in French and English, reached from the dashboard with
// the keyboard. Screenshots are kept in test-artifacts/.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { artifactPath, launchChromium, publishFixtures, purgeFixtures, watchedPage } from './browser.mjs';

const CRACH = '21560046100010';
const MONTREUIL = '21930048000015';
let fixtures;
let browser;

before(async () => {
  fixtures = publishFixtures(['crach-principal-dm2-2021', 'crach-principal-ca-2021', 'montreuil-ca-2018']);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  purgeFixtures();
});

function url(path, lang = '') {
  return `${fixtures.site_url}${lang ? `/${lang}` : ''}${path}`;
}

/** Every table shown has a caption and column headers. */
async function assertTablesLabelled(page) {
  const tables = page.locator('article.budgetod-collectivite table');
  const count = await tables.count();
  assert.ok(count >= 4, `${count} tables`);
  for (let index = 0; index < count; index += 1) {
    const table = tables.nth(index);
    assert.equal(await table.isVisible(), true);
    assert.match(await table.locator('caption').textContent(), /\S/);
    assert.ok(await table.locator('thead th[scope="col"]').count() >= 2);
  }
}

describe("a budget's page across the years", () => {
  test('shows the series, per inhabitant figures, ratios and execution in French', async () => {
    const { page, errors } = await watchedPage(browser.context);
    await page.goto(url(`/budgets/${CRACH}`));
    await page.getByRole('heading', { level: 1, name: 'CRACH' }).waitFor();
    await assertTablesLabelled(page);
    await page.getByRole('heading', { name: 'Exécution du budget 2021' }).waitFor();
    const perInhabitant = page.locator('table.budgetod-per-inhabitant tbody tr').first();
    assert.match(await perInhabitant.textContent(), /2021\s+3446/);
    assert.ok(await page.getByRole('cell', { name: 'Encours de la dette par habitant' }).isVisible());
    await page.screenshot({ path: artifactPath('collectivite-crach-fr.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('speaks English', async () => {
    const { page, errors } = await watchedPage(browser.context);
    await page.goto(url(`/budgets/${MONTREUIL}`, 'en'));
    await page.getByRole('heading', { name: 'Revenue and expenditure by year' }).waitFor();
    await assertTablesLabelled(page);
    assert.ok(await page.getByRole('cell', { name: 'Outstanding debt per inhabitant' }).isVisible());
    await page.screenshot({ path: artifactPath('collectivite-montreuil-en.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('is reached from the dashboard with the keyboard', async () => {
    const { page, errors } = await watchedPage(browser.context);
    await page.goto(url(`/budgets?exercice=2018`));
    const link = page.locator(`table.budgetod-coverage a[href*="/budgets/${MONTREUIL}?organization="]`);
    await link.focus();
    await Promise.all([page.waitForURL(new RegExp(`/budgets/${MONTREUIL}\\?organization=[\\w-]+$`)), page.keyboard.press('Enter')]);
    await page.getByRole('heading', { level: 1 }).waitFor();
    assert.deepEqual(errors, []);
    await page.close();
  });
});
