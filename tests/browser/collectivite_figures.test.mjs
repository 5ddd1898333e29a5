// Browser tests of the charts, exports, print and embed layouts of a budget's page across the years,
// in Debian's Chromium, against the running local portal: five years of a made-up commune (three
// M14 accounts, then two M57 ones: a change of nomenclature in 2023; bench/collectivite_series.py)
// and Crach's account 2021, its peer that year. Expected figures come from the action's JSON.
// Screenshots are kept in test-artifacts/.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';

import { artifactPath, launchChromium, publishFixtures, purgeFixtures, watchedPage } from './browser.mjs';

const SERIES = ['demoville-ca-2020', 'demoville-ca-2021', 'demoville-ca-2022', 'demoville-cfu-2023',
                'demoville-cfu-2024'];
const DEMOVILLE = '21569999200016';
const BREAK_YEAR = '2023';
let fixtures;
let browser;
let summary;

before(async () => {
  fixtures = publishFixtures([...SERIES, 'crach-principal-ca-2021']);
  browser = await launchChromium();
  const response = await fetch(`${fixtures.site_url}/api/3/action/budgetod_collectivite_summary?id=${DEMOVILLE}`);
  summary = (await response.json()).result;
});

after(async () => {
  await browser?.close();
  purgeFixtures();
});

function url(path, lang = '') {
  return `${fixtures.site_url}${lang ? `/${lang}` : ''}${path}`;
}

async function openPage(path = `/budgets/${DEMOVILLE}`, lang = '') {
  const { page, errors } = await watchedPage(browser.context);
  await page.goto(url(path, lang));
  await page.locator('[data-budgetod-drawn="true"]').waitFor();
  return { page, errors };
}

/** What ECharts holds for the chart of a figure: its series without the nomenclature marks. */
async function drawnSeries(page, name) {
  return page.locator(`#budgetod-${name} .budgetod-chart`).evaluate((element) => {
    const option = window.echarts.getInstanceByDom(element).getOption();
    return option.series.map((series) => ({
      name: series.name, type: series.type,
      values: series.data.map((item) => (item === '-' || item === null ? null : (item.exact ?? item.value ?? item))),
      marks: (series.markArea?.data || []).map((area) => ({ name: area[0].name, from: area[0].xAxis, to: area[1].xAxis })),
    }));
  });
}

const withFigures = () => summary.exercices.filter((year) => year.measure);
const isMark = (series) => series.name === 'budgetod-breaks';

/** RFC 4180 CSV: quoted fields, doubled quotes, commas and newlines inside quotes. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let index = 0; index < text.length; index += 1) {
    const character = text[index];
    if (quoted) {
      if (character === '"' && text[index + 1] === '"') {
        field += '"';
        index += 1;
      } else if (character === '"') {
        quoted = false;
      } else {
        field += character;
      }
    } else if (character === '"') {
      quoted = true;
    } else if (character === ',') {
      row.push(field);
      field = '';
    } else if (character === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else {
      field += character;
    }
  }
  assert.equal(field + row.join(''), '', 'the CSV ends with a newline');
  return rows;
}

describe("the charts of a budget's page across the years", () => {
  test('draw every exercice, the section series, the chapters, peers and execution', async () => {
    const { page, errors } = await openPage();
    const years = withFigures().map((year) => String(year.exercice));
    assert.deepEqual(years, ['2020', '2021', '2022', '2023', '2024']);
    assert.deepEqual(summary.breaks.map((item) => item.exercice), [2023]);

    // Sections × directions × real/ordre: one stacked bar series each, one value per year.
    const totals = new Set(withFigures().flatMap((year) => year.totals.map((row) => `${row.section}/${row.codrd}/${row.opbudg}`)));
    const series = (await drawnSeries(page, 'series')).filter((item) => !isMark(item));
    assert.equal(series.length, totals.size);
    for (const item of series) {
      assert.equal(item.type, 'bar');
      assert.equal(item.values.length, years.length);
    }
    const realRevenue = withFigures().map((year) => year.totals.find((row) => row.section === 'fonctionnement'
      && row.codrd === 'recette' && row.opbudg === 'réel').amount);
    assert.ok(series.some((item) => JSON.stringify(item.values) === JSON.stringify(realRevenue)), 'operating real revenue drawn');

    // Chapters: lines of the 10 largest (their joins across the change: the next test).
    for (const name of ['chapters-expenditure', 'chapters-revenue']) {
      const lines = (await drawnSeries(page, name)).filter((item) => !isMark(item));
      const codrd = name.endsWith('expenditure') ? 'dépense' : 'recette';
      const chapters = new Set(withFigures().flatMap((year) => year.chapters.filter((row) => row.codrd === codrd)
        .map((row) => `${row.section}/${row.code}`)));
      assert.equal(new Set(lines.map((item) => item.name)).size, Math.min(10, chapters.size), name);
      for (const line of lines) {
        assert.equal(line.type, 'line');
        assert.equal(line.values.length, years.length);
      }
    }

    // Per inhabitant: per section and direction, this budget's five years and the peers' 2021 median.
    const peers = (await drawnSeries(page, 'per-inhabitant')).filter((item) => !isMark(item));
    const own = peers.filter((item) => item.name === 'This budget' || item.name === 'Ce budget');
    assert.equal(own.length, 4);
    const firstPair = withFigures().map((year) => year.per_inhabitant.find((row) => row.section === 'fonctionnement'
      && row.codrd === 'recette').amount);
    assert.deepEqual(own[0].values, firstPair);
    const medians = peers.filter((item) => /médiane|median/i.test(item.name));
    assert.equal(medians.length, 4);
    const peer2021 = summary.exercices.find((year) => year.exercice === 2021).peers;
    assert.equal(peer2021.count, 1);
    assert.deepEqual(medians[0].values, [null, peer2021.per_inhabitant.find((row) => row.section === 'fonctionnement'
      && row.codrd === 'recette').median, null, null, null]);

    // Execution: voted and realised per chapter of each year with an account.
    for (const year of withFigures()) {
      const bars = await drawnSeries(page, `execution-${year.exercice}-chapters`);
      assert.equal(bars.length, 2);
      assert.deepEqual(bars[0].values, year.execution.chapters.map((row) => row.voted));
      assert.deepEqual(bars[1].values, year.execution.chapters.map((row) => row.realised));
    }
    await page.locator('#budgetod-series').screenshot({ path: artifactPath('collectivite-series-chart.png') });
    await page.locator('#budgetod-per-inhabitant').screenshot({ path: artifactPath('collectivite-peers-chart.png') });
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('mark the change of nomenclature on every chart over the years', async () => {
    const { page, errors } = await openPage();
    const overYears = await page.locator('[data-budgetod-chart]').evaluateAll((figures) => figures
      .filter((figure) => ['years', 'peers'].includes(JSON.parse(figure.querySelector('.budgetod-chart-data').textContent).type))
      .map((figure) => figure.dataset.budgetodChart));
    assert.deepEqual(overYears, ['series', 'per-inhabitant', 'chapters-expenditure', 'chapters-revenue']);
    for (const name of overYears) {
      const marks = (await drawnSeries(page, name)).filter(isMark);
      assert.ok(marks.length >= 1, name);
      for (const mark of marks) {
        assert.deepEqual(mark.marks.map((area) => [area.from, area.to]), [[BREAK_YEAR, '2024']], name);
        assert.match(mark.marks[0].name, /M14 → M57/);
      }
      const text = await page.locator(`#budgetod-${name} .budgetod-chart svg`).textContent();
      assert.match(text, /M14 → M57/, `${name}: the mark's label is drawn`);
    }
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('are read with the keyboard, and their tables stay', async () => {
    const { page, errors } = await openPage();
    await page.locator('#budgetod-series .budgetod-png').focus();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.classList.contains('budgetod-csv')), true);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'budgetod-series-chart');
    await page.keyboard.press('ArrowRight');
    const announced = await page.locator('#budgetod-series .budgetod-live').textContent();
    assert.match(announced, /, 2020 : [0-9\u202f]+,[0-9]{2}\u00a0€$/);
    assert.ok(await page.locator('.budgetod-tooltip').first().isVisible());
    const charts = await page.locator('[data-budgetod-chart]').count();
    assert.equal(await page.locator('[data-budgetod-chart] table').count(), charts, 'each chart has its table');
    for (const table of await page.locator('[data-budgetod-chart] table').all()) {
      assert.equal(await table.isVisible(), true);
    }
    await page.screenshot({ path: artifactPath('collectivite-series-fr.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('speak English', async () => {
    const { page, errors } = await openPage(`/budgets/${DEMOVILLE}`, 'en');
    await page.getByRole('heading', { name: 'Revenue and expenditure by year' }).waitFor();
    const peers = await drawnSeries(page, 'per-inhabitant');
    assert.ok(peers.some((item) => item.name === 'This budget'));
    assert.ok(peers.some((item) => item.name === 'Peers’ median'));
    assert.equal(await page.locator('#budgetod-series .budgetod-png').textContent(), 'Chart as PNG');
    assert.equal(await page.locator('#budgetod-series .budgetod-csv').textContent(), 'Table as CSV');
    assert.deepEqual(errors, []);
    await page.close();
  });
  test('follow the width of the window', async () => {
    // Each chart is drawn at the width measured once (initialize): a resize must give it the new one.
    const { page, errors } = await openPage();
    const widths = () => page.locator('[data-budgetod-chart] .budgetod-chart svg').evaluateAll(
      (charts) => charts.map((svg) => Math.round(svg.getBoundingClientRect().width)));
    const before = await widths();
    assert.ok(before.every((width) => width > 900), `${before}`);
    await page.setViewportSize({ width: 700, height: 900 });
    await page.waitForFunction(() => [...document.querySelectorAll('[data-budgetod-chart] .budgetod-chart svg')]
      .every((svg) => svg.getBoundingClientRect().width < 700));
    const after = await widths();
    const room = await page.locator('#budgetod-series .budgetod-chart').evaluate((element) => element.clientWidth);
    assert.equal(after[0], room);
    assert.deepEqual(errors, []);
    await page.close();
  });
});

describe("the chapters of a budget's page across a change of nomenclature", () => {
  /** Amount of a chapter by year (null where the year has none). */
  const amountsOf = (codrd, code) => withFigures().map((year) => year.chapters
    .find((row) => row.codrd === codrd && row.code === code)?.amount ?? null);

  test("join a chapter's line across the change where the crosswalk compares it, and break it elsewhere", async () => {
    const { page, errors } = await openPage();
    const years = withFigures().map((year) => String(year.exercice));
    const breakIndex = years.indexOf(BREAK_YEAR);
    const [change] = summary.breaks;
    assert.ok(change.comparable_chapters.includes('011') && change.not_comparable_chapters.includes('731'));
    let joined = 0;
    for (const name of ['chapters-expenditure', 'chapters-revenue']) {
      const codrd = name.endsWith('expenditure') ? 'dépense' : 'recette';
      const lines = (await drawnSeries(page, name)).filter((item) => !isMark(item));
      const byName = new Map();
      for (const line of lines) {
        byName.set(line.name, [...(byName.get(line.name) || []), line.values]);
      }
      for (const [lineName, parts] of byName) {
        const code = lineName.split(' ')[0];
        const amounts = amountsOf(codrd, code);
        if (change.comparable_chapters.includes(code)) {
          // One line over every year: the values of both nomenclatures joined.
          assert.deepEqual(parts, [amounts], `${name}: ${lineName} is one line`);
          if (amounts[breakIndex - 1] !== null && amounts[breakIndex] !== null) joined += 1;
        } else {
          // Stopped at the change: no part holds values from both sides.
          for (const values of parts) {
            const before = values.slice(0, breakIndex).some((value) => value !== null);
            const after = values.slice(breakIndex).some((value) => value !== null);
            assert.ok(!(before && after), `${name}: ${lineName} joins values across the change of nomenclature`);
          }
          assert.deepEqual(years.map((_year, index) => parts.map((values) => values[index])
            .find((value) => value !== null) ?? null), amounts, `${name}: ${lineName} keeps its values`);
        }
      }
    }
    assert.ok(joined >= 10, `${joined} chapters joined across the change`);
    // Chapter 011 exists with the same code, section and direction in M14 and M57: one line, five years.
    const expenditure = (await drawnSeries(page, 'chapters-expenditure')).filter((item) => item.name.startsWith('011 '));
    assert.deepEqual(expenditure.map((item) => item.values), [amountsOf('dépense', '011')]);
    assert.ok(expenditure[0].values.every((value) => value !== null));
    // 731 (M57's local taxes) has no M14 counterpart: its line starts at the change.
    const revenue = (await drawnSeries(page, 'chapters-revenue')).filter((item) => item.name.startsWith('731 '));
    assert.equal(revenue.length, 1);
    assert.deepEqual(revenue[0].values.slice(0, breakIndex), Array(breakIndex).fill(null));
    await page.locator('#budgetod-chapters-expenditure').screenshot({ path: artifactPath('collectivite-chapters-joined.png') });
    assert.deepEqual(errors, []);
    await page.close();
  });

  for (const [lang, heading, yes, no] of [['en', 'Across M14 → M57 (2023)', 'comparable', 'not comparable'],
                                          ['fr', 'Au passage M14 → M57 (2023)', 'comparable', 'non comparable']]) {
    test(`say in the chapters' tables which chapters compare across the change (${lang})`, async () => {
      const { page, errors } = await openPage(`/budgets/${DEMOVILLE}`, lang);
      const [change] = summary.breaks;
      for (const name of ['chapters-expenditure', 'chapters-revenue']) {
        const table = page.locator(`#budgetod-${name} table`);
        const headings = (await table.locator('thead th').allTextContents()).map((text) => text.trim());
        assert.equal(headings.at(-1), heading, name);
        const rows = await table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells]
          .map((cell) => cell.textContent.trim())));
        assert.ok(rows.length > 10, name);
        for (const row of rows) {
          const code = row[0];
          const expected = change.comparable_chapters.includes(code) ? yes
            : change.not_comparable_chapters.includes(code) ? no : '';
          assert.equal(row.at(-1), expected, `${name}: ${code}`);
        }
        if (name === 'chapters-revenue') {
          assert.equal(rows.find((row) => row[0] === '731').at(-1), no);
        }
      }
      assert.deepEqual(errors, []);
      await page.close();
    });
  }
});

describe("the exports of a budget's page", () => {
  test('give every table as CSV, the same as the table shown', async () => {
    const { page, errors } = await openPage();
    const figures = await page.locator('figure.budgetod-figure').all();
    assert.ok(figures.length >= 8, `${figures.length} figures`);
    for (const figure of figures) {
      const link = figure.locator('a.budgetod-csv');
      const href = await link.getAttribute('href');
      const response = await page.request.get(new URL(href, page.url()).href);
      assert.equal(response.status(), 200, href);
      assert.match(response.headers()['content-type'], /^text\/csv/);
      assert.match(response.headers()['content-disposition'], /^attachment; filename="21569999200016-[a-z0-9-]+\.csv"$/);
      const csv = parseCsv(await response.text());
      const table = figure.locator('table');
      const headings = await table.locator('thead th').allTextContents();
      const cells = await table.locator('tbody tr').evaluateAll((rows) => rows.map((row) => [...row.cells]
        .map((cell) => cell.dataset.value)));
      assert.deepEqual(csv, [headings.map((text) => text.trim()), ...cells], href);
    }
    // Without JavaScript too: a plain link.
    const [download] = await Promise.all([page.waitForEvent('download'),
                                          page.locator('#budgetod-series a.budgetod-csv').click()]);
    assert.equal(download.suggestedFilename(), `${DEMOVILLE}-series.csv`);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('give every chart as a PNG image', async () => {
    const { page, errors } = await openPage();
    const names = await page.locator('[data-budgetod-chart]').evaluateAll((nodes) => nodes.map((node) => node.dataset.budgetodChart));
    for (const name of [names[0], names[1], names[names.length - 1]]) {
      const [download] = await Promise.all([page.waitForEvent('download'),
                                            page.locator(`#budgetod-${name} .budgetod-png`).click()]);
      assert.equal(download.suggestedFilename(), `${DEMOVILLE}-${name}.png`);
      const bytes = readFileSync(await download.path());
      assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${name}: a PNG`);
      assert.equal(bytes.subarray(12, 16).toString('ascii'), 'IHDR');
      const width = bytes.readUInt32BE(16);
      const height = bytes.readUInt32BE(20);
      assert.ok(width >= 1000 && height >= 300, `${name}: ${width}×${height}`);
      assert.ok(bytes.length > 10000, `${name}: ${bytes.length} bytes, a drawn chart`);
    }
    assert.equal(await page.locator('[data-budgetod-chart] .budgetod-png').count(), names.length);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('CSV of an unknown table is not found', async () => {
    const response = await fetch(url(`/budgets/${DEMOVILLE}/nothing.csv`));
    assert.equal(response.status, 404);
    await response.body.cancel();
  });
});

describe("printing and embedding a budget's page", () => {
  test('print the charts and tables without the navigation', async () => {
    const { page, errors } = await openPage();
    await page.emulateMedia({ media: 'print' });
    for (const selector of ['.masthead', '.account-masthead', '.site-footer', '.toolbar', '.budgetod-figure-actions',
                            '.budgetod-embed-code']) {
      for (const element of await page.locator(selector).all()) {
        assert.equal(await element.isVisible(), false, `${selector} printed`);
      }
    }
    assert.equal(await page.locator('#budgetod-series .budgetod-chart svg').isVisible(), true);
    assert.equal(await page.locator('#budgetod-series table').isVisible(), true);
    const box = await page.locator('#budgetod-series .budgetod-chart svg').boundingBox();
    assert.ok(box.width > 300 && box.height > 100);
    await page.screenshot({ path: artifactPath('collectivite-print.png'), fullPage: false });
    await page.emulateMedia({ media: 'screen' });
    assert.equal(await page.locator('.masthead').isVisible(), true);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('embed the page in another site, without the portal around it; only that page may be framed', async () => {
    const { page: portalPage } = await openPage();
    const embedUrl = url(`/budgets/${DEMOVILLE}/embed`);
    const code = await portalPage.locator('#budgetod-embed-snippet').inputValue();
    assert.match(code, new RegExp(`^<iframe src="${embedUrl.replace(/[.?]/g, '\\$&')}" title="[^"]+" `));
    await portalPage.close();

    const response = await fetch(embedUrl);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-frame-options'), null);
    assert.equal(response.headers.get('content-security-policy'), 'frame-ancestors *');
    // Bodies left unread would hold the server's connection (pages of some 200 kB fill the socket buffers).
    await response.body.cancel();
    const full = await fetch(url(`/budgets/${DEMOVILLE}`));
    assert.equal(full.headers.get('x-frame-options'), 'SAMEORIGIN');
    await full.body.cancel();

    // A page of another site (another origin: another port) framing the embeddable page, then the
    // full page. A real server: Chromium refuses frames of local addresses in a page it got elsewhere.
    const site = createServer((request, response) => {
      response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      response.end(`<!doctype html><html lang="fr"><title>Site</title><h1>Site de la commune</h1>${code}`
        + `<iframe id="full" src="${url(`/budgets/${DEMOVILLE}`)}" width="800" height="400"></iframe>`);
    });
    await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve));
    try {
      const host = `http://127.0.0.1:${site.address().port}/`;
      const { page, errors } = await watchedPage(browser.context);
      await page.goto(host);
      const embedded = page.frameLocator('iframe[src$="/embed"]');
      await embedded.locator('[data-budgetod-drawn="true"]').waitFor();
      await embedded.getByRole('heading', { level: 1, name: 'COMMUNE DE DEMOVILLE' }).waitFor();
      assert.equal(await embedded.locator('.masthead, .site-footer, .toolbar, .account-masthead').count(), 0);
      assert.ok(await embedded.locator('[data-budgetod-chart] svg').count() >= 8);
      assert.equal(await embedded.locator('.budgetod-source a').getAttribute('href'), url(`/budgets/${DEMOVILLE}`));
      // The full page refuses to be framed: Chromium shows its error page in its place.
      const fullFrame = await (await page.locator('iframe#full').elementHandle()).contentFrame();
      assert.match(fullFrame.url(), /^chrome-error:/);
      assert.equal(await fullFrame.locator('.budgetod-collectivite').count(), 0);
      await page.screenshot({ path: artifactPath('collectivite-embedded.png'), fullPage: true });
      assert.deepEqual(errors.filter((message) => !/frame-ancestors|X-Frame-Options|Refused to (display|frame)/.test(message)), []);
      await page.close();
    } finally {
      site.closeAllConnections();
      site.close();
    }
  });
});
