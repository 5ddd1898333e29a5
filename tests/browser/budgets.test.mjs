// Browser tests against the running local portal (devstack/stack.sh up): the budget visualisation,
// the dataset summary card, the report page and the dashboard, in French and English, in Debian's
// Chromium. Screenshots are kept in test-artifacts/. Run: make test (or npm run test:browser).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { artifactPath, launchChromium, publishFixtures, purgeFixtures, watchedPage } from './browser.mjs';

let fixtures;
let browser;

before(async () => {
  fixtures = publishFixtures();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  purgeFixtures();
});

function url(path, lang = '') {
  return `${fixtures.site_url}${lang ? `/${lang}` : ''}${path}`;
}

function viewPath(stem) {
  const { name, scdl } = fixtures.documents[stem];
  return `/dataset/${name}/resource/${scdl}`;
}

async function openView(stem, lang = '') {
  const { page, errors } = await watchedPage(browser.context);
  await page.goto(url(viewPath(stem), lang));
  await page.locator('[data-budgetod-drawn="true"]').waitFor();
  return { page, errors };
}

/** Every chart of the view is shown, labelled, focusable, and has drawn bars. */
async function assertChartsDrawn(page, expectedKinds) {
  const figures = page.locator('figure[data-budgetod-chart]');
  const kinds = await figures.evaluateAll((nodes) => nodes.map((node) => node.dataset.budgetodChart));
  assert.deepEqual(kinds, expectedKinds);
  for (const kind of kinds) {
    const figure = page.locator(`figure[data-budgetod-chart="${kind}"]`);
    const chart = figure.locator('.budgetod-chart');
    await chart.waitFor({ state: 'visible' });
    assert.equal(await chart.getAttribute('tabindex'), '0');
    assert.match(await chart.getAttribute('aria-label'), /\S/);
    const bars = await chart.locator('svg path[fill]').evaluateAll((paths) => paths.filter((path) => {
      const box = path.getBBox();
      return box.width > 1 && box.height > 1;
    }).length);
    assert.ok(bars >= 2, `${kind}: ${bars} bars drawn`);
    assert.equal(await figure.locator('.budgetod-table').isHidden(), true, `${kind}: the table waits behind its button`);
  }
}

describe('the budget visualisation', () => {
  test('draws every chart of an account in French, without console errors', async () => {
    const { page, errors } = await openView('montreuil-ca-2018');
    await assertChartsDrawn(page, ['sections', 'voted', 'chapters-expenditure', 'chapters-revenue', 'functions']);
    await page.getByRole('heading', { name: 'Recettes et dépenses par section' }).waitFor();
    assert.equal(await page.locator('.budgetod-toggle').first().textContent(), 'Afficher le tableau');
    // The largest nature, in French format (narrow no-break spaces, then a no-break space before €).
    assert.ok(await page.getByText('38\u202f204\u202f850,03\u00a0€').first().isVisible());
    await page.screenshot({ path: artifactPath('view-montreuil-fr.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('draws the same view in English', async () => {
    const { page, errors } = await openView('montreuil-ca-2018', 'en');
    await assertChartsDrawn(page, ['sections', 'voted', 'chapters-expenditure', 'chapters-revenue', 'functions']);
    await page.getByRole('heading', { name: 'Revenue and expenditure by section' }).waitFor();
    assert.equal(await page.locator('.budgetod-toggle').first().textContent(), 'Show as a table');
    assert.ok(await page.getByText('€38,204,850.03').first().isVisible());
    const legend = await page.locator('figure[data-budgetod-chart="sections"] svg').textContent();
    assert.match(legend, /Real revenue/);
    await page.screenshot({ path: artifactPath('view-montreuil-en.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('draws a budget primitif voted by nature: no voted-realised or function chart', async () => {
    const { page, errors } = await openView('transport-m43-bp-2022');
    await assertChartsDrawn(page, ['sections', 'chapters-expenditure', 'chapters-revenue']);
    await page.screenshot({ path: artifactPath('view-transport-bp-fr.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('works with the keyboard: values one by one, then the table instead of the chart', async () => {
    const { page, errors } = await openView('crach-principal-ca-2021');
    const figure = page.locator('figure[data-budgetod-chart="sections"]');
    const chart = figure.locator('.budgetod-chart');
    const live = figure.locator('.budgetod-live');
    const toggle = figure.locator('.budgetod-toggle');

    // The chart is in the tab order, right after its button.
    await toggle.focus();
    await page.keyboard.press('Tab');
    assert.equal(await chart.evaluate((node) => node === document.activeElement), true);
    await page.keyboard.press('ArrowRight');
    await live.filter({ hasText: /€/ }).waitFor({ state: 'attached' });
    const first = await live.textContent();
    assert.match(first, /^Recettes réelles, Fonctionnement : [\d\u202f]+,\d\d\u00a0€$/);
    // The same value in the chart's tooltip.
    await figure.locator('.budgetod-tooltip').filter({ hasText: 'Recettes réelles' }).waitFor({ state: 'visible' });
    await page.keyboard.press('ArrowRight');
    await live.filter({ hasNotText: first }).waitFor({ state: 'attached' });
    assert.match(await live.textContent(), /^Recettes réelles, Investissement : /);
    await page.screenshot({ path: artifactPath('view-keyboard-tooltip-fr.png') });

    // The toggle is a real button: Shift+Tab goes back to it, Enter switches to the table and back.
    await page.keyboard.press('Shift+Tab');
    assert.equal(await toggle.evaluate((node) => node === document.activeElement), true);
    assert.equal(await toggle.textContent(), 'Afficher le tableau');
    await page.keyboard.press('Enter');
    await figure.locator('.budgetod-table').waitFor({ state: 'visible' });
    assert.equal(await chart.isHidden(), true);
    assert.equal(await toggle.textContent(), 'Afficher le graphique');
    assert.ok(await figure.getByRole('rowheader', { name: 'Fonctionnement' }).first().isVisible());
    await figure.screenshot({ path: artifactPath('view-table-alternative-fr.png') });
    await page.keyboard.press('Enter');
    await chart.waitFor({ state: 'visible' });
    assert.equal(await figure.locator('.budgetod-table').isHidden(), true);
    assert.deepEqual(errors, []);
    await page.close();
  });
});

describe('the dataset page and the report page', () => {
  test('a budget dataset opens with its summary card, in French and English', async () => {
    const { name } = fixtures.documents['crach-principal-ca-2021'];
    for (const [lang, title, stages] of [['', 'Le budget en bref', /Décision modificative n° 2.*Compte administratif/],
                                         ['en', 'Budget at a glance', /Amending decision no\. 2.*Administrative account/]]) {
      const { page, errors } = await watchedPage(browser.context);
      await page.goto(url(`/dataset/${name}`, lang));
      const card = page.locator('.budgetod-card');
      await card.getByRole('heading', { name: title }).waitFor();
      assert.match((await card.textContent()).replace(/\s+/g, ' '), stages);
      assert.equal(await card.locator('.badge.bg-success').count(), 2);
      await card.screenshot({ path: artifactPath(`dataset-card-${lang || 'fr'}.png`) });
      assert.deepEqual(errors, []);
      await page.close();
    }
  });

  test('an invalid document\'s report groups its errors by column, with their rows', async () => {
    const { report } = fixtures.documents['crach-principal-ca-2021-invalid'];
    for (const [lang, verdict, rows, siret] of [
      ['', 'Non valide.', 'Lignes : 3, 5', /« 12345678901234 » n'est pas un numéro SIRET valide/],
      ['en', 'Not valid.', 'Rows: 3, 5', /"12345678901234" is not a valid SIRET number/]]) {
      const { page, errors } = await watchedPage(browser.context);
      await page.goto(url(`/budgets/report/${report}`, lang));
      await page.locator('.alert-danger').getByText(verdict).waitFor();
      const groups = page.locator('.budgetod-report-group');
      assert.deepEqual((await groups.locator('h3').allTextContents()).map((text) => text.trim().split(/\s+/)[0]),
                       ['BGT_SIRET', 'BGT_MTREAL']);
      const sirets = groups.first();
      assert.equal((await sirets.locator('.budgetod-report-rows').textContent()).replace(/\s+/g, ' ').trim(), rows);
      assert.match(await sirets.locator('tbody').textContent(), siret);
      await page.screenshot({ path: artifactPath(`report-invalid-${lang || 'fr'}.png`), fullPage: true });
      assert.deepEqual(errors, []);
      await page.close();
    }
  });

  test('the validation report reads in French and English', async () => {
    const { report } = fixtures.documents['mohon-cfu-2023'];
    for (const [lang, verdict] of [['', 'Valide.'], ['en', 'Valid.']]) {
      const { page, errors } = await watchedPage(browser.context);
      await page.goto(url(`/budgets/report/${report}`, lang));
      await page.locator('.alert-success').getByText(verdict).waitFor();
      await page.screenshot({ path: artifactPath(`report-${lang || 'fr'}.png`), fullPage: true });
      assert.deepEqual(errors, []);
      await page.close();
    }
  });
});

describe('the budgets dashboard', () => {
  /** The coverage rows shown: [budget name, département, nomenclature]. */
  async function rows(page) {
    return page.locator('table.budgetod-coverage tbody tr').evaluateAll((trs) => trs.map((tr) => [
      tr.querySelector('th').firstChild.textContent.trim(),
      tr.cells[1].textContent.trim(),
      tr.cells[2].textContent.trim(),
    ]));
  }

  async function filter(page, values, buttonName) {
    for (const [name, value] of Object.entries(values)) {
      await page.locator(`#budgetod-filter-${name}`).selectOption(value);
    }
    await Promise.all([page.waitForURL(/\/budgets\?/), page.getByRole('button', { name: buttonName }).click()]);
  }

  test('filters by département, nomenclature and year', async () => {
    const { page, errors } = await watchedPage(browser.context);
    await page.goto(url('/budgets'));
    await page.getByRole('heading', { name: 'Budgets publiés' }).waitFor();
    const everything = await rows(page);
    for (const budget of ['VILLE DE MONTREUIL', 'CRACH', 'COMMUNE DE MOHON (M57)']) {
      assert.ok(everything.some((row) => row[0] === budget), `${budget} is listed`);
    }
    await page.screenshot({ path: artifactPath('dashboard-fr.png'), fullPage: true });

    await filter(page, { departement: '93' }, 'Filtrer');
    assert.match(page.url(), /departement=93/);
    const in93 = await rows(page);
    assert.ok(in93.some((row) => row[0] === 'VILLE DE MONTREUIL'));
    assert.ok(in93.every((row) => row[1] === '93'), JSON.stringify(in93));

    await filter(page, { departement: '', norme: 'M57' }, 'Filtrer');
    const m57 = await rows(page);
    assert.ok(m57.some((row) => row[0] === 'COMMUNE DE MOHON (M57)'));
    assert.ok(m57.every((row) => row[2].startsWith('M57')), JSON.stringify(m57));

    await filter(page, { norme: '', exercice: '2021' }, 'Filtrer');
    const years = await page.locator('table.budgetod-coverage thead th').allTextContents();
    assert.deepEqual(years.slice(3), ['2021']);
    const crach = page.locator(`[data-dataset="${fixtures.documents['crach-principal-ca-2021'].name}"]`);
    assert.deepEqual((await crach.locator('abbr').allTextContents()).sort(), ['CA', 'DM 2']);
    await page.screenshot({ path: artifactPath('dashboard-2021-fr.png'), fullPage: true });

    // The invalid document is marked, and its mark opens its report.
    const spoiled = page.locator(`[data-dataset="${fixtures.documents['crach-principal-ca-2021-invalid'].name}"]`);
    await spoiled.locator('a.badge.bg-danger').click();
    await page.waitForURL(new RegExp(`/budgets/report/${fixtures.documents['crach-principal-ca-2021-invalid'].report}$`));
    await page.goBack();

    await page.getByRole('link', { name: 'Effacer les filtres' }).click();
    await page.waitForURL(/\/budgets$/);
    assert.equal((await rows(page)).length, everything.length);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('speaks English', async () => {
    const { page, errors } = await watchedPage(browser.context);
    await page.goto(url('/budgets', 'en'));
    await page.getByRole('heading', { name: 'Published budgets' }).waitFor();
    await filter(page, { departement: '56' }, 'Filter');
    assert.ok((await rows(page)).every((row) => row[1] === '56'));
    await page.screenshot({ path: artifactPath('dashboard-en.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });
});
