import * as fs from 'node:fs';
import * as path from 'node:path';
import { By, error as seleniumError, until, type WebDriver, type WebElement } from 'selenium-webdriver';

/** The journey's steps, in order (home → product → add to cart → cart → checkout form → order). */
export const JOURNEY_STEPS = ['home', 'product', 'add-to-cart', 'cart', 'checkout-form', 'order-confirmation'] as const;
export type JourneyStep = (typeof JOURNEY_STEPS)[number];

export interface StepResult {
  name: JourneyStep;
  ok: boolean;
  ms: number;
  /** Navigation Timing of the page the step ended on: navigation start → first response byte (ms) */
  ttfbMs?: number;
  screenshot?: string;
}

export interface JourneyResult {
  ok: boolean;
  startMs: number;
  endMs: number;
  steps: StepResult[];
  failedStep?: JourneyStep;
  /** the check that failed, in words ("cart badge span.cart-size-circle shows 1") */
  assertion?: string;
  error?: string;
  screenshot?: string;
  /** what the journey bought, for the record */
  product?: { id: string; name: string };
  orderId?: string;
  /**
   * Round trip of a fetch('/_healthz') made by the page after the home step: the network as the page
   * sees it, so emulated latency shows here (Navigation Timing does not include CDP's added latency).
   */
  rttMs?: number;
}

export interface JourneyOptions {
  baseUrl: string;
  stepTimeoutMs: number;
  quantity: number;
  /** folder for screenshots */
  shotDir: string;
  /** file name prefix, e.g. "run-0003" */
  shotPrefix: string;
  /** screenshot after every step (otherwise only on failure) */
  everyStep: boolean;
}

/** A failed check; `assertion` says what was expected. */
export class AssertionFailed extends Error {
  constructor(
    readonly assertion: string,
    detail: string,
  ) {
    super(`${assertion}: ${detail}`);
    this.name = 'AssertionFailed';
  }
}

const UUID_RE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const MONEY_RE = /[$€£¥₺]\s?\d[\d,]*\.\d{2}/;

/**
 * One pass of the shopping journey with real assertions on the page at each step, as a user would
 * see it (text content, not just "no exception"). Each step's time runs from its action to its
 * last assertion passing. A failing step records the step name, the assertion and a screenshot;
 * the steps after it are not run.
 */
export async function runJourney(driver: WebDriver, o: JourneyOptions): Promise<JourneyResult> {
  const startMs = Date.now();
  const steps: StepResult[] = [];
  const res: JourneyResult = { ok: false, startMs, endMs: startMs, steps };
  let assertion = '';
  const wait = o.stepTimeoutMs;
  fs.mkdirSync(o.shotDir, { recursive: true });

  /** Text content even where CSS hides the element (mobile layouts hide some header parts). */
  const text = async (el: WebElement): Promise<string> =>
    ((await el.getAttribute('textContent')) ?? '').replace(/\s+/g, ' ').trim();
  const expect = (what: string): void => {
    assertion = what;
  };
  const find = async (css: string, what: string): Promise<WebElement> => {
    expect(what);
    try {
      return await driver.wait(until.elementLocated(By.css(css)), wait, `${css} not found`);
    } catch (err) {
      throw new AssertionFailed(what, await pageProblem(err));
    }
  };
  /** If the frontend served its error page, say so (its status line is the useful detail). */
  const pageProblem = async (err: unknown): Promise<string> => {
    try {
      const body = await driver.findElement(By.css('body'));
      const t = await text(body);
      if (t.includes('Uh, oh!')) {
        const status = /HTTP Status: ([^\n]+?)(?: Error details|$)/.exec(t)?.[1] ?? '';
        return `the frontend served its error page (${status.slice(0, 120)})`;
      }
      const netErr = /\b(ERR_[A-Z_]+)\b/.exec(t)?.[1];
      if (netErr) return `the browser could not reach the frontend (net::${netErr})`;
      // an error answer that is not the frontend's own page (a fault proxy's 503, a gateway's 502): its status
      // and its words say what happened, where "element not found" would not
      const status: unknown = await driver.executeScript(
        "const n = performance.getEntriesByType('navigation')[0]; return n && n.responseStatus ? n.responseStatus : null;",
      );
      if (typeof status === 'number' && status >= 400)
        return `the server answered HTTP ${status}${t ? ` ("${t.slice(0, 120)}")` : ''} at ${await driver.getCurrentUrl()}`;
      const title = await driver.getTitle();
      // A page wider than the viewport widens an emulated phone's layout viewport (innerWidth follows it,
      // clientWidth does not), and chromedriver's clicks then miss their element: a click that does nothing.
      // Say so: it is the page's layout, not the network or the backend.
      const widths: unknown = await driver.executeScript(
        'return [document.documentElement.scrollWidth, document.documentElement.clientWidth];',
      );
      const [page = 0, view = 0] = Array.isArray(widths) ? (widths as number[]) : [];
      // (a pixel of rounding is not an overflow: a plain text page reads 981 in 980)
      const wide = page > view + 1 ? `; the page is ${page} px wide in a ${view} px viewport, so clicks can miss` : '';
      return `${errorText(err)} (page title "${title}", url ${await driver.getCurrentUrl()}${wide})`;
    } catch {
      return errorText(err);
    }
  };
  const check = (cond: boolean, what: string, detail: string): void => {
    expect(what);
    if (!cond) throw new AssertionFailed(what, detail);
  };
  const ttfb = async (): Promise<number | undefined> => {
    try {
      const v: unknown = await driver.executeScript(
        "const n = performance.getEntriesByType('navigation')[0]; return n ? n.responseStart - n.startTime : null;",
      );
      return typeof v === 'number' ? Math.round(v) : undefined;
    } catch {
      return undefined;
    }
  };
  const shoot = async (name: string): Promise<string | undefined> => {
    try {
      const file = path.join(o.shotDir, `${o.shotPrefix}-${name}.png`);
      fs.writeFileSync(file, await driver.takeScreenshot(), 'base64');
      return file;
    } catch {
      return undefined; // no browser left to photograph
    }
  };

  const bodies: Record<JourneyStep, () => Promise<void>> = {
    home: async () => {
      expect(`GET ${o.baseUrl}/ loads`);
      try {
        await driver.get(o.baseUrl + '/');
      } catch (err) {
        const netErr = /net::(ERR_[A-Z_]+)/.exec(errorText(err))?.[1];
        throw new AssertionFailed(
          assertion,
          netErr ? `the browser could not reach the frontend (net::${netErr})` : errorText(err),
        );
      }
      // chromium shows its own error page (no exception) when the server cannot be reached
      const bodyText = await driver.findElement(By.css('body')).then(text, () => '');
      const netErr = /\b(ERR_[A-Z_]+)\b/.exec(bodyText)?.[1];
      check(
        netErr === undefined,
        `GET ${o.baseUrl}/ loads`,
        `the browser could not reach the frontend (net::${netErr})`,
      );
      await find('main.home', 'home page main.home is shown');
      const title = await driver.getTitle();
      check(title.includes('Online Boutique'), 'page title is "Online Boutique"', `title is "${title}"`);
      const h3 = await text(await find('main.home h3', 'heading "Hot Products" is shown'));
      check(h3 === 'Hot Products', 'heading "Hot Products" is shown', `heading is "${h3}"`);
      const cards = await driver.findElements(By.css('div.hot-product-card'));
      check(cards.length > 0, 'product cards div.hot-product-card are listed', 'no cards');
      const price = await text(await find('div.hot-product-card-price', 'each card shows a price'));
      check(MONEY_RE.test(price), 'card price looks like money ($19.99)', `price is "${price}"`);
      try {
        const rtt: unknown = await driver.executeAsyncScript(
          "const done = arguments[arguments.length - 1]; const t = performance.now(); fetch('/_healthz', { cache: 'no-store' }).then((r) => r.text()).then(() => done(performance.now() - t), () => done(null));",
        );
        if (typeof rtt === 'number') res.rttMs = Math.round(rtt);
      } catch {
        // a measurement, not an assertion: the journey goes on without it
      }
    },
    product: async () => {
      const card = await find('div.hot-product-card', 'a product card is present');
      const name = await text(await card.findElement(By.css('div.hot-product-card-name')));
      const link = await card.findElement(By.css('a[href^="/product/"]'));
      const href = (await link.getAttribute('href')) ?? '';
      const id = /\/product\/([^/?#]+)/.exec(href)?.[1] ?? '';
      res.product = { id, name };
      expect(`clicking the "${name}" card opens /product/${id}`);
      await driver.executeScript('arguments[0].scrollIntoView({block: "center"})', link);
      await link.click();
      const h2 = await text(await find('div.h-product h2', 'product page div.h-product shows the product name'));
      check(h2 === name, `product page heading is "${name}"`, `heading is "${h2}"`);
      const price = await text(await find('p.product-price', 'product price p.product-price is shown'));
      check(MONEY_RE.test(price), 'product price looks like money', `price is "${price}"`);
      const button = await find('div.h-product button[type=submit]', 'button "Add To Cart" is shown');
      const label = await text(button);
      check(label === 'Add To Cart', 'button reads "Add To Cart"', `button reads "${label}"`);
    },
    'add-to-cart': async () => {
      const select = await find('select#quantity', 'quantity select#quantity is present');
      expect(`quantity ${o.quantity} can be chosen`);
      // upstream's options have no value attribute (<option>10</option>): match the visible text
      await select.findElement(By.xpath(`./option[normalize-space(.)="${o.quantity}"]`)).click();
      const chosen = (await select.getAttribute('value')) ?? '';
      check(chosen === String(o.quantity), `quantity ${o.quantity} is selected`, `selected "${chosen}"`);
      const button = await find('div.h-product button[type=submit]', 'button "Add To Cart" is present');
      await driver.executeScript('arguments[0].scrollIntoView({block: "center"})', button);
      await button.click();
      expect('adding to the cart redirects to /cart');
      try {
        await driver.wait(until.urlMatches(/\/cart(\?|#|$)/), wait);
      } catch (err) {
        throw new AssertionFailed(assertion, await pageProblem(err));
      }
    },
    cart: async () => {
      const badge = await text(await find('span.cart-size-circle', 'cart badge span.cart-size-circle is shown'));
      check(
        badge === String(o.quantity),
        `cart badge span.cart-size-circle shows ${o.quantity}`,
        `badge shows "${badge}"`,
      );
      const h3 = await text(await find('main.cart-sections h3', 'cart heading is shown'));
      check(h3 === `Cart (${o.quantity})`, `cart heading reads "Cart (${o.quantity})"`, `heading reads "${h3}"`);
      const row = await text(await find('div.cart-summary-item-row', 'a cart row div.cart-summary-item-row is shown'));
      const name = res.product?.name ?? '';
      check(row.includes(name), `cart row names "${name}"`, `row reads "${row.slice(0, 160)}"`);
      check(
        row.includes(`Quantity: ${o.quantity}`),
        `cart row reads "Quantity: ${o.quantity}"`,
        `row reads "${row.slice(0, 160)}"`,
      );
      if (res.product?.id)
        check(
          row.includes(`SKU #${res.product.id}`),
          `cart row shows "SKU #${res.product.id}"`,
          `row reads "${row.slice(0, 160)}"`,
        );
      const total = await text(await find('div.cart-summary-total-row', 'cart total row is shown'));
      check(
        /Total/.test(total) && MONEY_RE.test(total),
        'cart total row shows "Total" and an amount',
        `reads "${total}"`,
      );
    },
    'checkout-form': async () => {
      const form = await find('form.cart-checkout-form', 'checkout form form.cart-checkout-form is shown');
      const email = await form.findElement(By.css('input[name="email"]'));
      const value = (await email.getAttribute('value')) ?? '';
      check(value.includes('@'), 'checkout form has an email filled in', `email is "${value}"`);
      for (const field of [
        'street_address',
        'zip_code',
        'city',
        'state',
        'country',
        'credit_card_number',
        'credit_card_cvv',
      ]) {
        expect(`checkout form has field ${field}`);
        const els = await form.findElements(By.css(`[name="${field}"]`));
        check(els.length === 1, `checkout form has field ${field}`, 'missing');
      }
      const button = await form.findElement(By.css('button[type=submit]'));
      const label = await text(button);
      check(label === 'Place Order', 'button reads "Place Order"', `button reads "${label}"`);
      expect('clicking "Place Order" submits the order');
      await driver.executeScript('arguments[0].scrollIntoView({block: "center"})', button);
      await button.click();
      // the step ends when the browser has left the cart page (click may return before the POST does)
      expect('submitting the order leaves the cart page');
      try {
        await driver.wait(() => documentGone(form), wait, 'the checkout form is still on the page');
      } catch (err) {
        throw new AssertionFailed(assertion, await pageProblem(err));
      }
    },
    'order-confirmation': async () => {
      const h3 = await text(
        await find('section.order-complete-section h3', 'order page section.order-complete-section is shown'),
      );
      check(h3 === 'Your order is complete!', 'heading reads "Your order is complete!"', `heading reads "${h3}"`);
      const section = await text(await find('section.order-complete-section', 'order details are shown'));
      check(
        section.includes('Confirmation #'),
        'order page shows "Confirmation #"',
        `reads "${section.slice(0, 200)}"`,
      );
      check(section.includes('Tracking #'), 'order page shows "Tracking #"', `reads "${section.slice(0, 200)}"`);
      check(
        section.includes('Total Paid') && MONEY_RE.test(section),
        'order page shows "Total Paid" and an amount',
        `reads "${section.slice(0, 200)}"`,
      );
      const id = UUID_RE.exec(section.slice(section.indexOf('Confirmation #')))?.[0];
      check(id !== undefined, 'the confirmation number is an order UUID', `reads "${section.slice(0, 200)}"`);
      res.orderId = id;
      const badges = await driver.findElements(By.css('span.cart-size-circle'));
      check(badges.length === 0, 'the cart is empty after the order (no cart badge)', 'the cart badge is still shown');
    },
  };

  for (const name of JOURNEY_STEPS) {
    const t0 = Date.now();
    try {
      await bodies[name]();
      const step: StepResult = { name, ok: true, ms: Date.now() - t0, ttfbMs: await ttfb() };
      if (o.everyStep) step.screenshot = await shoot(`${JOURNEY_STEPS.indexOf(name) + 1}-${name}`);
      steps.push(step);
    } catch (err) {
      const step: StepResult = { name, ok: false, ms: Date.now() - t0 };
      step.screenshot = await shoot(`${JOURNEY_STEPS.indexOf(name) + 1}-${name}-FAILED`);
      steps.push(step);
      res.failedStep = name;
      res.assertion = err instanceof AssertionFailed ? err.assertion : assertion;
      res.error = errorText(err);
      res.screenshot = step.screenshot;
      res.endMs = Date.now();
      return res;
    }
  }
  res.ok = true;
  res.endMs = Date.now();
  return res;
}

/**
 * Whether `el`'s document has been replaced (the browser navigated away). selenium's
 * until.stalenessOf only accepts "stale element reference"; chromedriver answers a check that lands
 * while the new document is being committed with "unhandled inspector error: Node with given id does
 * not belong to the document" instead (seen in CI on the order POST), which means the same thing.
 */
export async function documentGone(el: WebElement): Promise<boolean> {
  try {
    await el.isEnabled();
    return false;
  } catch (err) {
    if (err instanceof seleniumError.StaleElementReferenceError) return true;
    if (err instanceof Error && /does not belong to the document/.test(err.message)) return true;
    throw err;
  }
}

/** First line of an error, without selenium's long stack of driver internals. */
export function errorText(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return (msg.split('\n')[0] ?? msg).slice(0, 500);
}
