// The order board and GraphiQL in a real browser: the system's Chromium driven by playwright-core, against a
// server on the real Postgres, NATS and Redis. Each step leaves a screenshot in test-results/browser/.
// Without /usr/bin/chromium this file fails (`.ci/run` installs it): a skipped browser test proves nothing.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createOrderMutation, gql, type IsolatedServices, isolatedServices, orderQuery, type StartedServer, startServer, tokenFor } from './harness.js';

const executablePath = '/usr/bin/chromium';
const shots = 'test-results/browser';
const launchArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('given the board served by a server on the real services, in Chromium', () => {
  let services: IsolatedServices;
  let server: StartedServer;
  let browser: Browser;
  let alice: string;
  let ops: string;
  /** Console errors and uncaught exceptions of the board's pages: a CSP violation shows up here. */
  const pageErrors: string[] = [];

  const shot = (page: Page, name: string) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  const boardPage = async (context: BrowserContext) => {
    const page = await context.newPage();
    page.on('console', (message) => message.type() === 'error' && pageErrors.push(message.text()));
    page.on('pageerror', (error) => pageErrors.push(error.message));
    return page;
  };
  /**
   * Clicks `button`, then waits for `selector`; answers the milliseconds between the two as the page saw
   * them (the click event, then the DOM change), so the browser driver's own round trips do not count.
   */
  const clickUntil = async (page: Page, button: string, selector: string) => {
    await page.evaluate(
      ([button, selector]) => {
        const measured = new Promise<number>((resolve) => {
          let clickedAt = 0;
          document.addEventListener('click', (event) => {
            if (event.target instanceof Element && event.target.closest(button)) clickedAt = performance.now();
          }, { capture: true });
          const observer = new MutationObserver(() => {
            if (clickedAt && document.querySelector(selector)) (observer.disconnect(), resolve(performance.now() - clickedAt));
          });
          observer.observe(document.body, { subtree: true, childList: true, attributes: true });
        });
        Object.assign(window, { measured });
      },
      [button, selector] as const,
    );
    await page.locator(button).click();
    await page.locator(selector).waitFor({ timeout: 10_000 }).catch(async (error: unknown) => {
      const said = (await page.locator('#command-error, #toast').allTextContents()).filter(Boolean);
      throw new Error(`${selector} did not show; the page says: ${JSON.stringify(said)}`, { cause: error });
    });
    return page.evaluate(() => (window as unknown as { measured: Promise<number> }).measured);
  };

  beforeAll(async () => {
    if (!existsSync(executablePath)) throw new Error(`Chromium is missing at ${executablePath}: apt-get install -y chromium (.ci/run does)`);
    await mkdir(shots, { recursive: true });
    services = await isolatedServices('browser');
    server = await startServer({ ...services.env, ROLE: 'command,relay,projector,query', RATE_LIMIT_PER_MINUTE: '100000' });
    // launch() gives every run a fresh temporary profile of its own.
    browser = await chromium.launch({ executablePath, args: launchArgs });
    [alice, ops] = await Promise.all([tokenFor('alice'), tokenFor('ops', true)]);
  });

  // A failure in the page is often a refusal in the server: show what the server logged above info.
  afterEach(({ task }) => {
    if (task.result?.state !== 'fail' || !server) return;
    const warnings = server.logs.filter((line) => /"level":(40|50|60)/.test(line));
    if (warnings.length) console.error(`server warnings and errors:\n${warnings.slice(-20).join('\n')}`);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await services?.cleanup();
  });

  describe('when the page and its files are requested', () => {
    it('serves them with their content types and a Content-Security-Policy', async () => {
      const page = await fetch(`${server.url}/`);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
      expect((await fetch(`${server.url}/web/board.js`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect((await fetch(`${server.url}/web/board.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
      expect((await fetch(`${server.url}/web/vendor/graphql-ws/client.js`)).status).toBe(200);
      expect((await fetch(`${server.url}/web/../package.json`)).status).toBe(404);
      expect((await fetch(`${server.url}/web/vendor/graphql-ws/index.js`)).status).toBe(404);
    });
  });

  describe('when a customer opens the board with #token=, creates an order, confirms and pays it', () => {
    let context: BrowserContext;
    let page: Page;
    let orderId: string;

    beforeAll(async () => {
      context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      page = await boardPage(context);
    });
    afterAll(() => context?.close());

    it('signs in, connects live and leaves the token in neither the address bar nor the history', async () => {
      await page.goto(`${server.url}/?before`);
      await page.goto(`${server.url}/#token=${alice}`);
      await expect.poll(() => page.locator('#user').textContent()).toBe('alice');
      await page.locator('#conn[data-state="live"]').waitFor();
      expect(new URL(page.url()).hash).toBe('');
      expect(page.url()).not.toContain(alice);
      // The entry the link made was replaced: back leaves the board, forward returns to the bare path.
      await page.goBack();
      expect(page.url()).toBe(`${server.url}/?before`);
      await page.goForward();
      expect(page.url()).toBe(`${server.url}/`);
      await page.locator('#conn[data-state="live"]').waitFor();
      expect(await page.locator('#orders-empty').isVisible()).toBe(true);
      await shot(page, '01-customer-signed-in');
    });

    it('shows the new order as soon as it is projected', async () => {
      const elapsed = await clickUntil(page, '#create', 'li.order[data-status="CREATED"]');
      orderId = (await page.locator('li.order').first().getAttribute('data-id'))!;
      expect(orderId).toMatch(/^[0-9a-f-]{36}$/);
      expect(elapsed, `the order appeared ${elapsed} ms after the click`).toBeLessThan(2000);
      await page.locator('#stages li[data-stage="PROJECTED"][data-reached="true"]').waitFor();
      await shot(page, '02-customer-created');
    });

    it('changes the status within a second of clicking confirm, then pay', async () => {
      const row = `li.order[data-id="${orderId}"]`;
      const confirmed = await clickUntil(page, `${row} [data-action="confirm"]`, `${row}[data-status="CONFIRMED"]`);
      await shot(page, '03-customer-confirmed');
      const paid = await clickUntil(page, `${row} [data-action="pay"]`, `${row}[data-status="PAID"]`);
      expect(Math.max(confirmed, paid), `confirm took ${confirmed} ms, pay ${paid} ms`).toBeLessThan(1000);
      await expect.poll(() => page.locator(`${row} .version`).textContent()).toBe('v3');
      // A customer may not ship: the button is not offered.
      expect(await page.locator(`${row} [data-action="ship"]`).count()).toBe(0);
      await page.locator('#stages li[data-stage="PROJECTED"][data-reached="true"]').waitFor();
      expect(await page.locator('#command-title').textContent()).toContain('Pay');
      await shot(page, '04-customer-paid');
    });

    it('draws the end-to-end lag of the live updates it received', async () => {
      await expect.poll(async () => Number(await page.locator('#lag-chart svg').getAttribute('data-points'))).toBeGreaterThanOrEqual(3);
      const path = await page.locator('#lag-chart svg path.line').getAttribute('d');
      expect(path?.match(/[ML][\d.]+,[\d.]+/g)?.length).toBeGreaterThanOrEqual(3);
      expect(await page.locator('#lag-stats').textContent()).toMatch(/median \d+ ms/);
      await page.locator('#lag-chart').screenshot({ path: `${shots}/05-lag-chart.png` });
    });

    it('fits a 375 px wide screen without scrolling sideways', async () => {
      await page.setViewportSize({ width: 375, height: 812 });
      await page.waitForFunction(() => window.innerWidth === 375);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
      expect(await page.locator(`li.order[data-id="${orderId}"] [data-action="cancel"]`).isVisible()).toBe(true);
      await shot(page, '06-customer-375px');
    });

    it('loaded everything without a console error or a CSP violation', () => {
      expect(pageErrors).toEqual([]);
    });
  });

  describe('when an admin opens the board', () => {
    let context: BrowserContext;
    let page: Page;

    beforeAll(async () => {
      context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      page = await boardPage(context);
      await page.goto(`${server.url}/#token=${ops}`);
      await page.locator('#conn[data-state="live"]').waitFor();
    });
    afterAll(() => context?.close());

    it('shows projection health, live, with dead letters', async () => {
      const rows = page.locator('#projections tbody tr');
      await expect.poll(() => rows.count()).toBe(3);
      expect(await page.locator('#projections tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-name')).sort())).toEqual(['orderDetails', 'orderStats', 'userOrders']);
      await page.locator('#projections tr[data-name="orderDetails"][data-state="LIVE"]').waitFor();
      expect(await page.locator('#health-note').textContent()).toContain('No dead letters');
    });

    it("lists every customer's orders and ships and delivers one, live", async () => {
      const row = page.locator('li.order').filter({ has: page.locator('.owner', { hasText: 'alice' }) }).first();
      await row.waitFor();
      const id = await row.getAttribute('data-id');
      const selector = `li.order[data-id="${id}"]`;
      await clickUntil(page, `${selector} [data-action="ship"]`, `${selector}[data-status="SHIPPED"]`);
      await clickUntil(page, `${selector} [data-action="deliver"]`, `${selector}[data-status="DELIVERED"]`);

      // An order another customer creates meanwhile joins the list when the projections move.
      const created = await gql(server.url, createOrderMutation, { input: { items: [{ sku: 'B-1', name: 'Bicycle bell', quantity: 1, unitPriceCents: 899 }] } }, await tokenFor('bob'));
      expect(created.errors).toBeUndefined();
      await page.locator(`li.order[data-id="${created.data.createOrder.orderId}"]`).waitFor({ timeout: 10_000 });
      await expect.poll(async () => Number(await page.locator('#lag-chart svg').getAttribute('data-points'))).toBeGreaterThanOrEqual(2);
      await shot(page, '07-admin-board');
      expect(pageErrors).toEqual([]);
    });
  });

  describe('when the server runs only the trusted documents (TRUSTED_DOCUMENTS), and a customer uses the board', () => {
    let trusted: StartedServer;
    let context: BrowserContext;
    let page: Page;

    beforeAll(async () => {
      // Commands and reads only: the first server's relay and projectors carry the events, as separate roles would.
      trusted = await startServer({ ...services.env, ROLE: 'command,query', RATE_LIMIT_PER_MINUTE: '100000', TRUSTED_DOCUMENTS: 'client/generated/persisted-documents.json' });
      context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      page = await boardPage(context);
    });
    afterAll(async () => {
      await context?.close();
      await trusted?.stop();
    });

    it('refuses a document it does not list', async () => {
      const answer = await gql(trusted.url, 'query Unlisted { orders(first: 1) { totalCount } }', {}, alice);
      expect(answer.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    });

    it('runs every operation the board sends: the list, myOrdersUpdated, a create and a confirm, and commandStatus', async () => {
      await page.goto(`${trusted.url}/#token=${await tokenFor('trusting-carol')}`);
      await page.locator('#conn[data-state="live"]').waitFor();
      await clickUntil(page, '#create', 'li.order[data-status="CREATED"]');
      const row = `li.order[data-id="${await page.locator('li.order').first().getAttribute('data-id')}"]`;
      await clickUntil(page, `${row} [data-action="confirm"]`, `${row}[data-status="CONFIRMED"]`);
      await page.locator('#stages li[data-stage="PROJECTED"][data-reached="true"]').waitFor();
      expect(await page.locator('#command-error').textContent()).toBe('');
      expect(await page.locator('#toast').isHidden()).toBe(true);
      await shot(page, '11-board-trusted-documents');
      expect(pageErrors).toEqual([]);
    });
  });

  describe('when GraphiQL is opened at /graphql', () => {
    let context: BrowserContext;
    let page: Page;
    let orderId: string;

    // Monaco renders spaces as no-break spaces.
    const text = async (selector: string) => (await page.locator(selector).innerText()).replace(/\u00a0/g, ' ');
    const result = () => text('.result-window');
    const run = () => page.locator('.graphiql-execute-button').click();
    /** Replaces the text of one of GraphiQL's Monaco editors, as a user would by select-all and paste. */
    const fill = async (editor: string, content: string) => {
      for (let attempt = 1; ; attempt++) {
        await page.locator(editor).click();
        await page.keyboard.press('ControlOrMeta+A');
        await page.keyboard.insertText(content);
        // Monaco closes brackets and quotes as they are typed: drop what it added after the text.
        await page.keyboard.press('ControlOrMeta+Shift+End');
        await page.keyboard.press('Delete');
        // A select-all that lands before the editor has focus pastes into the old text: check, and redo.
        const now = await text(`${editor} .view-lines`);
        if (now === content || attempt === 3) return expect(now).toBe(content);
      }
    };

    beforeAll(async () => {
      const created = await gql(server.url, createOrderMutation, { input: { items: [{ sku: 'G-1', name: 'GraphiQL mug', quantity: 1, unitPriceCents: 1500 }] } }, alice);
      expect(created.errors).toBeUndefined();
      orderId = created.data.createOrder.orderId;
      await gql(server.url, orderQuery, { id: orderId, minVersion: 1 }, alice);
      context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      page = await context.newPage();
    });
    afterAll(() => context?.close());

    it('shows the documented examples and an Authorization header to fill in', async () => {
      await page.goto(`${server.url}/graphql`);
      await page.locator('.graphiql-execute-button').waitFor();
      await expect.poll(() => text('.graphiql-query-editor')).toContain('npm run token -- alice');
      expect(await text('.monaco-editor[data-uri$="request-headers.json"]')).toContain('"Authorization": "Bearer <token');
      await shot(page, '08-graphiql-examples');
    });

    it('runs a query with the token set in the headers tab', async () => {
      const query = `query Mine { order(id: "${orderId}") { id status version } }`;
      await page.goto(`${server.url}/graphql?query=${encodeURIComponent(query)}`);
      await page.locator('.graphiql-execute-button').waitFor();
      await fill('.monaco-editor[data-uri$="request-headers.json"]', JSON.stringify({ Authorization: `Bearer ${alice}` }));
      await run();
      await expect.poll(result).toContain(`"id": "${orderId}"`);
      expect(await result()).toContain('"status": "CREATED"');
      await shot(page, '09-graphiql-query');
    });

    it('runs a subscription and shows each change as it comes', async () => {
      // GraphiQL takes the editor's text into its own state a moment after the edit; running before that
      // sends the previous document (GraphiQL then says it cannot infer the operation). Edit, let it
      // settle, and edit again if GraphiQL still ran the old text.
      for (let attempt = 1; ; attempt++) {
        await fill('.graphiql-query-editor .monaco-editor', `subscription Live { orderUpdated(id: "${orderId}") { eventType version order { status } } }`);
        await page.waitForTimeout(500);
        await run();
        await expect.poll(async () => /Snapshot|Cannot infer operation/.test(await result()), { timeout: 10_000 }).toBe(true);
        if (!(await result()).includes('Cannot infer operation') || attempt === 3) break;
      }
      await expect.poll(result).toContain('"eventType": "Snapshot"');
      const confirmed = await gql(server.url, `mutation($id: ID!) { confirmOrder(orderId: $id) { version } }`, { id: orderId }, alice);
      expect(confirmed.errors).toBeUndefined();
      await expect.poll(result).toContain('"eventType": "OrderConfirmed"');
      expect(await result()).toContain('"status": "CONFIRMED"');
      await shot(page, '10-graphiql-subscription');
      await run(); // stops the subscription
    });
  });
});
