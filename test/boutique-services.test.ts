import * as assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { createClient } from 'redis';
import { BoutiqueClient, DependencyError, healthCheck } from '../infra/local/boutique/grpc-client';
import { convert, loadRates } from '../infra/local/boutique/services/currency';
import { GrpcError, hopDeadlineMs } from '../infra/local/boutique/grpc-server';
import { fromDecimal, multiply, render, sum } from '../infra/local/boutique/money';
import type { CreditCardInfo } from '../infra/local/boutique/types';
import {
  GRPC_SERVICES,
  allocatePorts,
  spawnService,
  startBoutique,
  startRedisOn,
  waitHealthy,
  type BoutiqueStack,
} from './helpers/boutique-procs';
import { waitUntil } from './helpers/ports';

const UUID_RE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
const NEXT_YEAR = new Date().getUTCFullYear() + 1;
const VISA: CreditCardInfo = {
  credit_card_number: '4432801561520454',
  credit_card_cvv: 672,
  credit_card_expiration_year: NEXT_YEAR,
  credit_card_expiration_month: 1,
};
const ADDRESS = {
  street_address: '1600 Amphitheatre Parkway',
  city: 'Mountain View',
  state: 'CA',
  country: 'United States',
  zip_code: 94043,
};
const CHECKOUT_FORM = {
  email: 'someone@example.com',
  street_address: ADDRESS.street_address,
  zip_code: '94043',
  city: ADDRESS.city,
  state: ADDRESS.state,
  country: ADDRESS.country,
  credit_card_number: VISA.credit_card_number,
  credit_card_expiration_month: '1',
  credit_card_expiration_year: String(NEXT_YEAR),
  credit_card_cvv: '672',
};

/** Rejects with the gRPC status code of a failed call. */
async function codeOf(p: Promise<unknown>): Promise<grpc.status | undefined> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DependencyError) return err.code;
    throw err;
  }
  assert.fail('call was expected to fail');
}

/** Sum of the samples of `name` whose labels include `labels` (Prometheus text format). */
function metricValue(text: string, name: string, labels: Record<string, string>): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const got = new Map(
      [...line.slice(name.length + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => got.get(k) === v)) total += Number(line.slice(close + 1).trim());
  }
  return total;
}

/** A browser-like HTTP session: keeps cookies, does not follow redirects. */
class Browser {
  readonly cookies = new Map<string, string>();
  constructor(private readonly base: string) {}
  async request(path: string, init: { method?: string; form?: Record<string, string>; referer?: string } = {}) {
    const headers: Record<string, string> = {};
    if (this.cookies.size > 0) headers['cookie'] = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (init.referer) headers['referer'] = init.referer;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(this.base + path, {
      method: init.method ?? (body ? 'POST' : 'GET'),
      headers,
      body,
      redirect: 'manual',
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = c.split(';');
      const i = pair.indexOf('=');
      const expired = attrs.some((a) => a.trim().toLowerCase() === 'max-age=0');
      if (expired) this.cookies.delete(pair.slice(0, i));
      else this.cookies.set(pair.slice(0, i), pair.slice(i + 1));
    }
    return { status: res.status, location: res.headers.get('location'), html: await res.text() };
  }
}

describe('boutique money and deadlines', function () {
  it('adds and multiplies money exactly and renders it like upstream', function () {
    const a = fromDecimal('USD', '19.99');
    assert.deepEqual(multiply(a, 3), { currency_code: 'USD', units: 59, nanos: 970_000_000 });
    assert.deepEqual(sum(a, { currency_code: 'USD', units: -20, nanos: 0 }), {
      currency_code: 'USD',
      units: 0,
      nanos: -10_000_000,
    });
    assert.equal(render(sum(a, fromDecimal('USD', '8.99'))), '$28.98');
    assert.equal(render(fromDecimal('GBP', '5.5')), '£5.50');
    assert.throws(() => sum(a, fromDecimal('EUR', '1')), /cannot add USD and EUR/);
  });

  it("cuts a dependency call's deadline to what is left of the caller's", function () {
    assert.equal(hopDeadlineMs({ getDeadline: () => Infinity }, 3000), 3000);
    const left = hopDeadlineMs({ getDeadline: () => new Date(Date.now() + 500) }, 3000);
    assert.ok(left > 0 && left <= 500, String(left));
    assert.throws(
      () => hopDeadlineMs({ getDeadline: () => Date.now() - 1 }, 3000),
      (err: unknown) => err instanceof GrpcError && err.code === grpc.status.DEADLINE_EXCEEDED,
    );
  });
});

describe('boutique stand-in services', function () {
  this.timeout(120_000);
  let stack: BoutiqueStack;
  let catalog: BoutiqueClient<'ProductCatalogService'>;
  let currency: BoutiqueClient<'CurrencyService'>;
  let cart: BoutiqueClient<'CartService'>;
  let shipping: BoutiqueClient<'ShippingService'>;
  const clients: { close(): void }[] = [];
  const client = <C extends { close(): void }>(c: C): C => {
    clients.push(c);
    return c;
  };
  const scrape = async (service: (typeof GRPC_SERVICES)[number]): Promise<string> =>
    (await fetch(`http://127.0.0.1:${stack.metricsPorts[service]}/metrics`)).text();

  before(async function () {
    stack = await startBoutique();
    catalog = client(
      new BoutiqueClient('productcatalogservice', 'ProductCatalogService', stack.addr('productcatalogservice'), 3000),
    );
    currency = client(new BoutiqueClient('currencyservice', 'CurrencyService', stack.addr('currencyservice'), 3000));
    cart = client(new BoutiqueClient('cartservice', 'CartService', stack.addr('cartservice'), 3000));
    shipping = client(new BoutiqueClient('shippingservice', 'ShippingService', stack.addr('shippingservice'), 3000));
  });

  after(async function () {
    for (const c of clients) c.close();
    await stack?.stop();
  });

  describe('gRPC services', function () {
    it('answers grpc.health.v1 Check on every service, NOT_FOUND for unknown names', async function () {
      for (const s of GRPC_SERVICES) assert.equal(await healthCheck(stack.addr(s), 2000), 'SERVING', s);
      assert.equal(await healthCheck(stack.addr('cartservice'), 2000, 'hipstershop.CartService'), 'SERVING');
      await assert.rejects(healthCheck(stack.addr('cartservice'), 2000, 'nope.Service'), (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.NOT_FOUND);
        return true;
      });
    });

    it('productcatalogservice lists, gets and searches the real catalogue', async function () {
      const { products } = await catalog.call('ListProducts', {});
      assert.equal(products.length, 9);
      const p = await catalog.call('GetProduct', { id: 'OLJCESPC7Z' });
      assert.equal(p.name, 'Sunglasses');
      assert.deepEqual(p.price_usd, { currency_code: 'USD', units: 19, nanos: 990_000_000 });
      assert.deepEqual(p.categories, ['accessories']);
      assert.equal(await codeOf(catalog.call('GetProduct', { id: 'NOPE' })), grpc.status.NOT_FOUND);
      const { results } = await catalog.call('SearchProducts', { query: 'GLASS' });
      assert.deepEqual(results.map((r) => r.id).sort(), ['9SIQT8TOJO', 'OLJCESPC7Z']);
    });

    it('currencyservice converts through EUR with exact units/nanos', async function () {
      const { currency_codes } = await currency.call('GetSupportedCurrencies', {});
      for (const c of ['USD', 'EUR', 'CAD', 'JPY', 'GBP', 'TRY']) assert.ok(currency_codes.includes(c), c);
      assert.deepEqual(
        await currency.call('Convert', { from: { currency_code: 'EUR', units: 1, nanos: 0 }, to_code: 'USD' }),
        {
          currency_code: 'USD',
          units: 1,
          nanos: 130_500_000,
        },
      );
      // 113.05 USD = 100 EUR exactly at 1.1305
      assert.deepEqual(
        await currency.call('Convert', {
          from: { currency_code: 'USD', units: 113, nanos: 50_000_000 },
          to_code: 'EUR',
        }),
        { currency_code: 'EUR', units: 100, nanos: 0 },
      );
      const jpy = await currency.call('Convert', {
        from: { currency_code: 'USD', units: 19, nanos: 990_000_000 },
        to_code: 'JPY',
      });
      assert.equal(jpy.currency_code, 'JPY');
      // 19.99 / 1.1305 * 126.40 = 2235.0606...
      assert.equal(jpy.units, 2235);
      assert.equal(Math.floor(jpy.nanos / 1_000_000), 60);
      assert.equal(
        await codeOf(currency.call('Convert', { from: { currency_code: 'USD', units: 1, nanos: 0 }, to_code: 'XXX' })),
        grpc.status.INVALID_ARGUMENT,
      );
      assert.equal(
        await codeOf(currency.call('Convert', { from: { currency_code: 'USD', units: 1, nanos: -5 }, to_code: 'EUR' })),
        grpc.status.INVALID_ARGUMENT,
      );
    });

    it('cartservice keeps carts in Redis, adds up quantities and empties', async function () {
      const user = 'cart-test-user';
      await cart.call('AddItem', { user_id: user, item: { product_id: '66VCHSJNUP', quantity: 2 } });
      await cart.call('AddItem', { user_id: user, item: { product_id: '66VCHSJNUP', quantity: 3 } });
      await cart.call('AddItem', { user_id: user, item: { product_id: 'L9ECAV7KIM', quantity: 1 } });
      const c = await cart.call('GetCart', { user_id: user });
      assert.equal(c.user_id, user);
      assert.deepEqual(
        c.items.sort((a, b) => a.product_id.localeCompare(b.product_id)),
        [
          { product_id: '66VCHSJNUP', quantity: 5 },
          { product_id: 'L9ECAV7KIM', quantity: 1 },
        ],
      );
      const redis = createClient({ url: `redis://127.0.0.1:${stack.redis.port}` });
      await redis.connect();
      try {
        assert.deepEqual({ ...(await redis.hGetAll(`cart:${user}`)) }, { '66VCHSJNUP': '5', L9ECAV7KIM: '1' });
        await cart.call('EmptyCart', { user_id: user });
        assert.equal(await redis.exists(`cart:${user}`), 0);
      } finally {
        await redis.close();
      }
      assert.deepEqual((await cart.call('GetCart', { user_id: user })).items, []);
      assert.equal(
        await codeOf(cart.call('AddItem', { user_id: user, item: { product_id: 'X', quantity: 0 } })),
        grpc.status.INVALID_ARGUMENT,
      );
    });

    it('recommendationservice returns catalogue ids excluding the given ones', async function () {
      const rec = client(
        new BoutiqueClient('recommendationservice', 'RecommendationService', stack.addr('recommendationservice'), 3000),
      );
      const all = (await catalog.call('ListProducts', {})).products.map((p) => p.id);
      const exclude = all.slice(0, 3);
      const { product_ids } = await rec.call('ListRecommendations', { user_id: 'u', product_ids: exclude });
      assert.equal(product_ids.length, 5);
      assert.equal(new Set(product_ids).size, 5);
      for (const id of product_ids) assert.ok(all.includes(id) && !exclude.includes(id), id);
      const last = await rec.call('ListRecommendations', { user_id: 'u', product_ids: all.slice(1) });
      assert.deepEqual(last.product_ids, [all[0]]);
    });

    it('shippingservice quotes USD 8.99 for a non-empty cart and issues tracking ids', async function () {
      const items = [{ product_id: 'OLJCESPC7Z', quantity: 3 }];
      assert.deepEqual((await shipping.call('GetQuote', { address: ADDRESS, items })).cost_usd, {
        currency_code: 'USD',
        units: 8,
        nanos: 990_000_000,
      });
      assert.deepEqual((await shipping.call('GetQuote', { address: ADDRESS, items: [] })).cost_usd, {
        currency_code: 'USD',
        units: 0,
        nanos: 0,
      });
      const { tracking_id } = await shipping.call('ShipOrder', { address: ADDRESS, items });
      assert.match(tracking_id, /^[A-Z]{2}-\d{5}-\d{9}$/);
      assert.equal(await codeOf(shipping.call('ShipOrder', { address: null, items })), grpc.status.INVALID_ARGUMENT);
    });

    it('paymentservice charges valid VISA/MasterCard and refuses invalid, other or expired cards', async function () {
      const pay = client(new BoutiqueClient('paymentservice', 'PaymentService', stack.addr('paymentservice'), 3000));
      const amount = { currency_code: 'USD', units: 10, nanos: 0 };
      assert.match((await pay.call('Charge', { amount, credit_card: VISA })).transaction_id, UUID_RE);
      const mc = { ...VISA, credit_card_number: '5555555555554444' };
      assert.match((await pay.call('Charge', { amount, credit_card: mc })).transaction_id, UUID_RE);
      const bad = [
        { ...VISA, credit_card_number: '4432801561520455' }, // Luhn
        { ...VISA, credit_card_number: '378282246310005' }, // AmEx
        { ...VISA, credit_card_expiration_year: NEXT_YEAR - 2 }, // expired
      ];
      for (const card of bad) {
        assert.equal(await codeOf(pay.call('Charge', { amount, credit_card: card })), grpc.status.INVALID_ARGUMENT);
      }
    });

    it('emailservice renders a confirmation for a valid address and rejects a bad one', async function () {
      const mail = client(new BoutiqueClient('emailservice', 'EmailService', stack.addr('emailservice'), 3000));
      const order = {
        order_id: 'o-1',
        shipping_tracking_id: 'AB-1-2',
        shipping_cost: { currency_code: 'USD', units: 8, nanos: 990_000_000 },
        shipping_address: ADDRESS,
        items: [
          {
            item: { product_id: 'OLJCESPC7Z', quantity: 1 },
            cost: { currency_code: 'USD', units: 19, nanos: 990_000_000 },
          },
        ],
      };
      assert.deepEqual(await mail.call('SendOrderConfirmation', { email: 'a@example.com', order }), {});
      assert.equal(
        await codeOf(mail.call('SendOrderConfirmation', { email: 'not-an-email', order })),
        grpc.status.INVALID_ARGUMENT,
      );
    });

    it('adservice serves ads by context key and random ads without one', async function () {
      const ad = client(new BoutiqueClient('adservice', 'AdService', stack.addr('adservice'), 3000));
      const kitchen = await ad.call('GetAds', { context_keys: ['kitchen'] });
      assert.deepEqual(kitchen.ads.map((a) => a.redirect_url).sort(), ['/product/6E92ZMYYFZ', '/product/9SIQT8TOJO']);
      const random = await ad.call('GetAds', { context_keys: [] });
      assert.equal(random.ads.length, 2);
      for (const a of random.ads) assert.match(a.redirect_url, /^\/product\/[A-Z0-9]{10}$/);
    });

    it('checkoutservice places an order in the user currency and empties the cart', async function () {
      const co = client(
        new BoutiqueClient('checkoutservice', 'CheckoutService', stack.addr('checkoutservice'), 10_000),
      );
      const user = 'checkout-test-user';
      await cart.call('AddItem', { user_id: user, item: { product_id: 'OLJCESPC7Z', quantity: 2 } });
      await cart.call('AddItem', { user_id: user, item: { product_id: '6E92ZMYYFZ', quantity: 1 } });
      const req = {
        user_id: user,
        user_currency: 'EUR',
        address: ADDRESS,
        email: 'someone@example.com',
        credit_card: VISA,
      };
      const { order } = await co.call('PlaceOrder', req);
      assert.ok(order);
      assert.match(order.order_id, UUID_RE);
      assert.match(order.shipping_tracking_id, /^[A-Z]{2}-/);
      assert.equal(order.shipping_cost?.currency_code, 'EUR');
      assert.equal(order.items.length, 2);
      const rates = loadRates();
      const sunglasses = order.items.find((i) => i.item?.product_id === 'OLJCESPC7Z');
      assert.deepEqual(
        sunglasses?.cost,
        convert(rates, { currency_code: 'USD', units: 19, nanos: 990_000_000 }, 'EUR'),
      );
      assert.deepEqual((await cart.call('GetCart', { user_id: user })).items, []);

      // A refused card fails the order with Internal, naming the dependency.
      await cart.call('AddItem', { user_id: user, item: { product_id: 'OLJCESPC7Z', quantity: 1 } });
      const err = await co
        .call('PlaceOrder', { ...req, credit_card: { ...VISA, credit_card_number: '378282246310005' } })
        .then(
          () => assert.fail('expected failure'),
          (e: unknown) => e as DependencyError,
        );
      assert.equal(err.code, grpc.status.INTERNAL);
      assert.match(err.message, /failed to charge card: paymentservice/);
      await cart.call('EmptyCart', { user_id: user });
      // the caller's side (go-grpc-prometheus client metrics): each dependency call timed and counted as
      // checkout saw it, the refused charge with its code (what svc_<s>_client_p95 / _client_errors read)
      const m = await scrape('checkoutservice');
      assert.match(m, /grpc_client_handling_seconds_count\{[^}]*grpc_service="hipstershop\.CartService"[^}]*\} [1-9]/);
      assert.match(
        m,
        /grpc_client_handled_total\{[^}]*grpc_service="hipstershop\.PaymentService"[^}]*grpc_code="(?!OK")[A-Za-z]+"[^}]*\} 1/,
      );
    });
  });

  describe('frontend', function () {
    it('completes a purchase: home, product, add to cart, cart, checkout, confirmation', async function () {
      const b = new Browser(stack.frontendUrl);
      const before = {
        charge: metricValue(await scrape('paymentservice'), 'grpc_server_handled_total', {
          grpc_method: 'Charge',
          grpc_code: 'OK',
        }),
        ship: metricValue(await scrape('shippingservice'), 'grpc_server_handled_total', {
          grpc_method: 'ShipOrder',
          grpc_code: 'OK',
        }),
        email: metricValue(await scrape('emailservice'), 'grpc_server_handled_total', {
          grpc_method: 'SendOrderConfirmation',
          grpc_code: 'OK',
        }),
      };

      const home = await b.request('/');
      assert.equal(home.status, 200);
      assert.match(b.cookies.get('shop_session-id') ?? '', UUID_RE);
      assert.match(home.html, /<title>Online Boutique<\/title>/);
      assert.match(home.html, /<main role="main" class="home">/);
      assert.match(home.html, /<h3>Hot Products<\/h3>/);
      assert.equal(home.html.match(/class="col-md-4 hot-product-card"/g)?.length, 9);
      assert.match(home.html, /<a href="\/product\/OLJCESPC7Z">/);
      assert.match(
        home.html,
        /<div class="hot-product-card-name">Sunglasses<\/div>\s*<div class="hot-product-card-price">\$19\.99<\/div>/,
      );
      assert.match(home.html, /<form method="POST" class="controls-form" action="\/setCurrency" id="currency_form">/);
      assert.match(home.html, /<a href="\/cart" class="cart-link"><img [^>]*alt="Cart icon"/);
      assert.doesNotMatch(home.html, /cart-size-circle/);
      assert.match(home.html, /This website is hosted for demo purposes only\. It is not an actual shop\./);
      assert.match(
        home.html,
        new RegExp(`session-id: ${b.cookies.get('shop_session-id')} — request-id: ${UUID_RE.source}`),
      );

      const product = await b.request('/product/OLJCESPC7Z');
      assert.equal(product.status, 200);
      assert.match(product.html, /<div class="h-product container">/);
      assert.match(product.html, /<h2>Sunglasses<\/h2>/);
      assert.match(product.html, /<p class="product-price">\$19\.99<\/p>/);
      assert.match(product.html, /<input type="hidden" name="product_id" value="OLJCESPC7Z">/);
      assert.match(product.html, /<select name="quantity" id="quantity">/);
      assert.match(product.html, /<button type="submit" class="cymbal-button-primary">Add To Cart<\/button>/);
      assert.match(product.html, /<section class="recommendations">[\s\S]*<h2>You May Also Like<\/h2>/);
      assert.match(product.html, /<div class="ad">[\s\S]*<strong>Ad<\/strong>/);

      const add = await b.request('/cart', { form: { product_id: 'OLJCESPC7Z', quantity: '2' } });
      assert.equal(add.status, 302);
      assert.equal(add.location, '/cart');

      const cartPage = await b.request('/cart');
      assert.equal(cartPage.status, 200);
      assert.match(cartPage.html, /<span class="cart-size-circle">2<\/span>/);
      assert.match(cartPage.html, /<h3>Cart \(2\)<\/h3>/);
      assert.match(
        cartPage.html,
        /class="cymbal-button-secondary cart-summary-empty-cart-button" type="submit">Empty Cart</,
      );
      assert.equal(cartPage.html.match(/class="row cart-summary-item-row"/g)?.length, 1);
      assert.match(cartPage.html, /<h4>Sunglasses<\/h4>/);
      assert.match(cartPage.html, /SKU #OLJCESPC7Z/);
      assert.match(cartPage.html, /Quantity: 2/);
      assert.match(cartPage.html, /<strong>\$39\.98<\/strong>/);
      assert.match(
        cartPage.html,
        /cart-summary-shipping-row">\s*<div class="col pl-md-0">Shipping<\/div>\s*<div[^>]*>\$8\.99</,
      );
      assert.match(
        cartPage.html,
        /cart-summary-total-row">\s*<div class="col pl-md-0">Total<\/div>\s*<div[^>]*>\$48\.97</,
      );
      assert.match(cartPage.html, /<form class="cart-checkout-form" action="\/cart\/checkout" method="POST">/);
      assert.match(cartPage.html, /name="email" value="someone@example.com"/);
      assert.match(cartPage.html, /name="credit_card_number"[^>]*value="4432801561520454"/);
      assert.match(cartPage.html, new RegExp(`<option value="${NEXT_YEAR}" selected="selected">`));
      assert.match(cartPage.html, /<option value="12">January<\/option>/);
      assert.match(cartPage.html, /type="submit">Place Order<\/button>/);

      const done = await b.request('/cart/checkout', { form: CHECKOUT_FORM });
      assert.equal(done.status, 200, done.html);
      assert.match(done.html, /<main role="main" class="order">/);
      assert.match(done.html, /<section class="container order-complete-section">/);
      assert.match(done.html, /<h3>Your order is complete!<\/h3>/);
      assert.match(done.html, /We've sent you a confirmation email\./);
      assert.match(done.html, new RegExp(`Confirmation #</div>\\s*<div[^>]*>${UUID_RE.source}<`));
      assert.match(done.html, /Tracking #<\/div>\s*<div[^>]*>[A-Z]{2}-\d+-\d+</);
      assert.match(done.html, /Total Paid<\/div>\s*<div[^>]*>\$48\.97</);
      assert.doesNotMatch(done.html, /id="currency_form"/);

      const after = await b.request('/cart');
      assert.match(after.html, /<section class="empty-cart-section">\s*<h3>Your shopping cart is empty!<\/h3>/);

      // The order reached payment, shipping and email: their gRPC servers counted it.
      const charge = metricValue(await scrape('paymentservice'), 'grpc_server_handled_total', {
        grpc_service: 'hipstershop.PaymentService',
        grpc_method: 'Charge',
        grpc_code: 'OK',
        pod: 'paymentservice-test-0',
      });
      assert.equal(charge, before.charge + 1);
      assert.equal(
        metricValue(await scrape('shippingservice'), 'grpc_server_handled_total', {
          grpc_method: 'ShipOrder',
          grpc_code: 'OK',
        }),
        before.ship + 1,
      );
      assert.equal(
        metricValue(await scrape('emailservice'), 'grpc_server_handled_total', {
          grpc_method: 'SendOrderConfirmation',
          grpc_code: 'OK',
        }),
        before.email + 1,
      );
      assert.ok(
        metricValue(await scrape('paymentservice'), 'grpc_server_handling_seconds_count', { grpc_method: 'Charge' }) >=
          1,
      );
      const fe = await (await fetch(`${stack.frontendUrl}/metrics`)).text();
      assert.equal(
        metricValue(fe, 'http_requests_total', {
          method: 'POST',
          route: '/cart/checkout',
          code: '200',
          pod: 'frontend-test-0',
        }),
        1,
      );
      assert.ok(metricValue(fe, 'http_request_duration_seconds_count', { method: 'GET', route: '/product/{id}' }) >= 1);
      assert.match(fe, /process_resident_memory_bytes\{pod="frontend-test-0"\}/);
    });

    it('shows prices in the currency chosen with /setCurrency', async function () {
      const b = new Browser(stack.frontendUrl);
      await b.request('/');
      const set = await b.request('/setCurrency', { form: { currency_code: 'EUR' }, referer: '/product/OLJCESPC7Z' });
      assert.equal(set.status, 302);
      assert.equal(set.location, '/product/OLJCESPC7Z');
      assert.equal(b.cookies.get('shop_currency'), 'EUR');
      const eur = render(convert(loadRates(), { currency_code: 'USD', units: 19, nanos: 990_000_000 }, 'EUR'));
      assert.equal(eur, '€17.68');
      const home = await b.request('/');
      assert.match(home.html, new RegExp(`Sunglasses</div>\\s*<div class="hot-product-card-price">${eur}</div>`));
      assert.doesNotMatch(home.html, /\$19\.99/);
      assert.match(home.html, /<option value="EUR" selected="selected">EUR<\/option>/);
      await b.request('/setCurrency', { form: { currency_code: 'JPY' } });
      assert.match((await b.request('/product/OLJCESPC7Z')).html, /<p class="product-price">¥2235\.06<\/p>/);
      const out = await b.request('/logout');
      assert.equal(out.status, 302);
      assert.equal(b.cookies.size, 0);
    });

    it('answers 422 with the error page for invalid forms, and serves the other upstream routes', async function () {
      const b = new Browser(stack.frontendUrl);
      const cases: [string, Record<string, string>][] = [
        ['/cart', { product_id: 'OLJCESPC7Z', quantity: '0' }],
        ['/cart', { quantity: '1' }],
        ['/cart/checkout', { ...CHECKOUT_FORM, email: 'nope' }],
        ['/cart/checkout', { ...CHECKOUT_FORM, credit_card_number: '4432801561520455' }],
        ['/cart/checkout', { ...CHECKOUT_FORM, credit_card_expiration_month: '13' }],
        ['/setCurrency', { currency_code: 'ABC' }],
      ];
      for (const [path, form] of cases) {
        const r = await b.request(path, { form });
        assert.equal(r.status, 422, `${path} ${JSON.stringify(form)}`);
        assert.match(r.html, /<h1>Uh, oh!<\/h1>/);
        assert.match(r.html, /HTTP Status:<\/strong> 422 Unprocessable Entity/);
        assert.match(r.html, /<pre class="border border-danger p-3">invalid form input: /);
      }
      // Forms sent as multipart (browser FormData) are read too.
      const fd = new FormData();
      fd.set('product_id', '66VCHSJNUP');
      fd.set('quantity', '3');
      const multipart = await fetch(`${stack.frontendUrl}/cart`, {
        method: 'POST',
        body: fd,
        redirect: 'manual',
        headers: { cookie: 'shop_session-id=multipart-user' },
      });
      assert.equal(multipart.status, 302);
      assert.deepEqual((await cart.call('GetCart', { user_id: 'multipart-user' })).items, [
        { product_id: '66VCHSJNUP', quantity: 3 },
      ]);
      const meta = await fetch(`${stack.frontendUrl}/product-meta/66VCHSJNUP`);
      assert.equal(((await meta.json()) as { name: string }).name, 'Tank Top');
      const head = await fetch(`${stack.frontendUrl}/`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), '');
      assert.equal((await b.request('/nowhere')).status, 404);
      assert.equal((await b.request('/product/%E0%A4%A')).status, 400);
      const unknown = await b.request('/product/NOPE');
      assert.equal(unknown.status, 500);
      assert.match(unknown.html, /could not retrieve product: productcatalogservice/);
      assert.equal((await b.request('/_healthz')).html, 'ok');
      // stand-in assets: a stylesheet for upstream's class names, a named tile per product picture
      const css = await fetch(`${stack.frontendUrl}/static/styles/styles.css`);
      assert.equal(css.headers.get('content-type'), 'text/css');
      assert.match(await css.text(), /\.hot-product-card-name\{/);
      const tile = await fetch(`${stack.frontendUrl}/static/img/products/tank-top.jpg`);
      assert.equal(tile.headers.get('content-type'), 'image/svg+xml');
      assert.match(await tile.text(), /^<svg [^>]*width="400"[^]*>tank top<\/text><\/svg>$/);
    });

    it('answers 500 naming cartservice while it is killed, and recovers when it is back', async function () {
      const b = new Browser(stack.frontendUrl);
      assert.equal((await b.request('/')).status, 200);
      await stack.procs.get('cartservice')?.kill('SIGKILL');
      const t0 = Date.now();
      const down = await b.request('/');
      assert.ok(Date.now() - t0 < 3500, `took ${Date.now() - t0} ms`);
      assert.equal(down.status, 500);
      assert.match(down.html, /HTTP Status:<\/strong> 500 Internal Server Error/);
      assert.match(
        down.html,
        /could not retrieve cart: cartservice \(hipstershop\.CartService\/GetCart at 127\.0\.0\.1:\d+\)/,
      );
      const add = await b.request('/cart', { form: { product_id: 'OLJCESPC7Z', quantity: '1' } });
      assert.equal(add.status, 500);
      assert.match(add.html, /failed to add to cart: cartservice/);

      await stack.restart('cartservice');
      await waitUntil(
        async () => (await b.request('/')).status === 200,
        10_000,
        'frontend to reconnect to cartservice',
      );
      const fe = await (await fetch(`${stack.frontendUrl}/metrics`)).text();
      assert.ok(metricValue(fe, 'http_requests_total', { route: '/', code: '500' }) >= 1);
    });
  });

  describe('process contract', function () {
    it('exits 2 naming a missing env var, 1 naming a taken port, 0 on SIGTERM; cartservice waits for Redis', async function () {
      const noRedis = spawnService('cartservice', { PORT: '1' });
      assert.equal(await noRedis.exited, 2);
      assert.match(noRedis.output, /REDIS_ADDR is required/);

      const taken = spawnService('shippingservice', { PORT: String(stack.ports.frontend) });
      assert.equal(await taken.exited, 1);
      assert.match(
        taken.output,
        new RegExp(`port ${stack.ports.frontend} on 127\\.0\\.0\\.1 is already in use \\(PORT\\)`),
      );

      // cartservice reports NOT_SERVING until its Redis answers, then SERVING without a restart.
      const [cartPort = 0, redisPort = 0] = await allocatePorts(2);
      const lonely = spawnService('cartservice', { PORT: String(cartPort), REDIS_ADDR: `127.0.0.1:${redisPort}` });
      try {
        const addr = `127.0.0.1:${cartPort}`;
        assert.equal(await waitUntil(() => healthCheck(addr, 1000), 20_000, 'cartservice up'), 'NOT_SERVING');
        const redis = await startRedisOn(redisPort);
        try {
          await waitUntil(async () => (await healthCheck(addr, 1000)) === 'SERVING', 20_000, 'cartservice SERVING');
        } finally {
          await redis.kill();
        }
      } finally {
        await lonely.kill();
      }

      const ad = stack.procs.get('adservice');
      assert.ok(ad?.running);
      ad.child.kill('SIGTERM');
      assert.equal(await ad.exited, 0);
      await waitHealthy(stack, 'frontend');
    });
  });
});
