// Shared by the browser tests and the view bench: Debian's Chromium driven by playwright-core
// (no browser download), and the fixture budgets published on the running local portal.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const PYTHON = path.join(ROOT, '.local', 'venv', 'bin', 'python');
const FIXTURES = path.join(ROOT, 'tests', 'browser', 'portal_fixtures.py');

/** Publish sample documents on the portal; returns {site_url, documents: {stem: {name, scdl, report}}}. */
export function publishFixtures(stems = []) {
  const output = execFileSync(PYTHON, [FIXTURES, 'setup', ...stems], { cwd: ROOT, encoding: 'utf-8' });
  return JSON.parse(output.trim().split('\n').pop());
}

export function purgeFixtures() {
  execFileSync(PYTHON, [FIXTURES, 'teardown'], { cwd: ROOT, encoding: 'utf-8' });
}

/** A headless Chromium with a fresh profile, removed on close. */
export async function launchChromium() {
  const profile = mkdtempSync(path.join(tmpdir(), 'budgetod-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--no-first-run'],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A new page that records console errors and uncaught exceptions. */
export async function watchedPage(context) {
  const page = await context.newPage();
  const errors = [];
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
  page.on('pageerror', (error) => errors.push(String(error)));
  return { page, errors };
}

export function artifactPath(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}
