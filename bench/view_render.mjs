// How long the budget visualisation of Montreuil's 2018 account (1431 budget lines) takes to be
// fully drawn on the running local stack: from the start of the navigation to the moment every
// chart has finished rendering (the module's "budgetod-view-drawn" performance mark).
// The first load computes the summary (cold cache); the following ones read it from the cache.
// Prints the figures; asserts nothing. Needs `devstack/stack.sh up`. Run: make bench-view
import { launchChromium, publishFixtures, purgeFixtures, watchedPage } from '../tests/browser/browser.mjs';

const DOCUMENT = 'montreuil-ca-2018';
const WARM_RUNS = 5;

async function drawnAfter(context, url) {
  const { page, errors } = await watchedPage(context);
  await page.goto(url);
  await page.locator('[data-budgetod-drawn="true"]').waitFor({ timeout: 30000 });
  const timing = await page.evaluate(() => {
    const [navigation] = performance.getEntriesByType('navigation');
    return {
      drawn: performance.getEntriesByName('budgetod-view-drawn')[0].startTime,
      html: navigation.responseEnd,
      loaded: navigation.domContentLoadedEventEnd,
    };
  });
  await page.close();
  if (errors.length) {
    throw new Error(`console errors: ${errors.join('; ')}`);
  }
  return timing;
}

const seconds = (ms) => (ms / 1000).toFixed(2);
const fixtures = publishFixtures([DOCUMENT]);
const browser = await launchChromium();
try {
  const { name, scdl } = fixtures.documents[DOCUMENT];
  const url = `${fixtures.site_url}/dataset/${name}/resource/${scdl}`;
  const cold = await drawnAfter(browser.context, url);
  const warm = [];
  for (let run = 0; run < WARM_RUNS; run += 1) {
    warm.push(await drawnAfter(browser.context, url));
  }
  const drawn = warm.map((timing) => timing.drawn).sort((a, b) => a - b);
  const median = drawn[Math.floor(drawn.length / 2)];
  console.log(`${DOCUMENT}: view fully drawn ${seconds(cold.drawn)} s after navigation start on first load ` +
              `(summary computed; HTML received at ${seconds(cold.html)} s)`);
  console.log(`${DOCUMENT}: view fully drawn ${seconds(median)} s (median of ${WARM_RUNS} loads with the ` +
              `summary cached; ${drawn.map(seconds).join(', ')} s; HTML received at ` +
              `${seconds(warm[0].html)} s, DOM ready at ${seconds(warm[0].loaded)} s)`);
} finally {
  await browser.close();
  purgeFixtures();
}
