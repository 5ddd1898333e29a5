// How long the page of a budget with 5 years (/budgets/<siret>) takes to be fully drawn on the
// running local stack: from the start of the navigation until every chart has finished rendering
// (the module's "budgetod-collectivite-drawn" performance mark). The budget is the made-up commune
// of bench/collectivite_series.py (five accounts made from the sample corpus, M14 then M57), with
// Crach's account 2021 as its peer. The first load computes the summaries (cold cache); the
// following ones read them from the cache. Goal: under 1.5 s. Prints the figures; asserts nothing.
// Needs `devstack/stack.sh up`. Run: make bench-page
import { launchChromium, publishFixtures, purgeFixtures, watchedPage } from '../tests/browser/browser.mjs';

const DOCUMENTS = ['demoville-ca-2020', 'demoville-ca-2021', 'demoville-ca-2022', 'demoville-cfu-2023',
                   'demoville-cfu-2024', 'crach-principal-ca-2021'];
const SIRET = '21569999200016';
const WARM_RUNS = 5;
const GOAL_SECONDS = 1.5;

async function drawnAfter(context, url) {
  const { page, errors } = await watchedPage(context);
  await page.goto(url);
  await page.locator('[data-budgetod-drawn="true"]').waitFor({ timeout: 60000 });
  const timing = await page.evaluate(() => {
    const [navigation] = performance.getEntriesByType('navigation');
    return {
      drawn: performance.getEntriesByName('budgetod-collectivite-drawn')[0].startTime,
      html: navigation.responseEnd,
      loaded: navigation.domContentLoadedEventEnd,
      charts: document.querySelectorAll('[data-budgetod-chart] svg').length,
    };
  });
  await page.close();
  if (errors.length) {
    throw new Error(`console errors: ${errors.join('; ')}`);
  }
  return timing;
}

const seconds = (ms) => (ms / 1000).toFixed(2);
const fixtures = publishFixtures(DOCUMENTS);
const browser = await launchChromium();
try {
  const url = `${fixtures.site_url}/budgets/${SIRET}`;
  const cold = await drawnAfter(browser.context, url);
  const warm = [];
  for (let run = 0; run < WARM_RUNS; run += 1) {
    warm.push(await drawnAfter(browser.context, url));
  }
  const drawn = warm.map((timing) => timing.drawn).sort((a, b) => a - b);
  const median = drawn[Math.floor(drawn.length / 2)];
  console.log(`/budgets/${SIRET} (5 years, ${cold.charts} charts): fully drawn ${seconds(cold.drawn)} s after ` +
              `navigation start on first load (summaries computed; HTML received at ${seconds(cold.html)} s)`);
  console.log(`/budgets/${SIRET}: fully drawn ${seconds(median)} s (median of ${WARM_RUNS} loads with the ` +
              `summaries cached; ${drawn.map(seconds).join(', ')} s; HTML received at ${seconds(warm[0].html)} s, ` +
              `DOM ready at ${seconds(warm[0].loaded)} s); goal ${GOAL_SECONDS} s: ` +
              `${median / 1000 < GOAL_SECONDS ? 'met' : 'NOT met'}`);
} finally {
  await browser.close();
  purgeFixtures();
}
