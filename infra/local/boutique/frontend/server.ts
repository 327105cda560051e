import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { requiredAddr, requiredPort } from '../env';
import { BoutiqueClient } from '../grpc-client';
import { staticAsset } from './assets';
import { listenOn } from '../../listen';
import { createGrpcClientMetrics, createHttpMetrics, renderMetrics } from '../metrics';
import { multiply, sum, zero } from '../money';
import { SHUTDOWN_GRACE_MS, type RunContext, type ServiceMain } from '../service';
import type { Ad, Money, Product } from '../types';
import { HttpError, parseAddToCart, parseCheckout, parseCurrency, readForm } from './forms';
import {
  cartPage,
  errorPage,
  homePage,
  orderPage,
  productPage,
  type CartLine,
  type PageBase,
  type PricedProduct,
} from './templates';

const SESSION_COOKIE = 'shop_session-id';
const CURRENCY_COOKIE = 'shop_currency';
const COOKIE_MAX_AGE_S = 48 * 3600;
/** Currencies the UI offers (upstream's whitelist, intersected with currencyservice's list). */
const WHITELISTED_CURRENCIES = new Set(['USD', 'EUR', 'CAD', 'JPY', 'GBP', 'TRY']);
const MAX_RECOMMENDATIONS_SHOWN = 4;

interface Clients {
  catalog: BoutiqueClient<'ProductCatalogService'>;
  currency: BoutiqueClient<'CurrencyService'>;
  cart: BoutiqueClient<'CartService'>;
  recommendation: BoutiqueClient<'RecommendationService'>;
  shipping: BoutiqueClient<'ShippingService'>;
  checkout: BoutiqueClient<'CheckoutService'>;
  ad: BoutiqueClient<'AdService'>;
}

/** Per-request state: session, currency, ids for the footer, cookies to set. */
interface Session {
  sessionId: string;
  requestId: string;
  currency: string;
  setCookies: string[];
}

interface Page {
  status: number;
  html?: string;
  text?: string;
  contentType?: string;
  location?: string;
}

function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const k = part.slice(0, i).trim();
    if (!out.has(k)) {
      try {
        out.set(k, decodeURIComponent(part.slice(i + 1).trim()));
      } catch {
        out.set(k, part.slice(i + 1).trim());
      }
    }
  }
  return out;
}

/** Runs a backend call; a failure becomes a 500 whose details start with what failed (upstream's texts). */
async function need<T>(what: string, op: Promise<T>): Promise<T> {
  try {
    return await op;
  } catch (err) {
    throw new HttpError(500, `${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Optional page parts (ads, recommendations): upstream ignores their failures. */
async function optional<T>(op: Promise<T>, fallback: T): Promise<T> {
  try {
    return await op;
  } catch {
    return fallback;
  }
}

const cartSize = (items: { quantity: number }[]): number => items.reduce((n, i) => n + i.quantity, 0);

class Frontend {
  constructor(
    private readonly c: Clients,
    private readonly ctx: RunContext,
  ) {}

  private base(s: Session, size: number, currencies?: string[]): PageBase {
    return { sessionId: s.sessionId, requestId: s.requestId, userCurrency: s.currency, cartSize: size, currencies };
  }

  private async currencies(): Promise<string[]> {
    const res = await need('could not retrieve currencies', this.c.currency.call('GetSupportedCurrencies', {}));
    return res.currency_codes.filter((c) => WHITELISTED_CURRENCIES.has(c));
  }

  private async cartItems(s: Session): Promise<{ product_id: string; quantity: number }[]> {
    return (await need('could not retrieve cart', this.c.cart.call('GetCart', { user_id: s.sessionId }))).items;
  }

  /**
   * Always asks currencyservice, even USD to USD, as upstream does (its no-op shortcut is off), so a
   * currencyservice fault shows on every page.
   */
  private async convert(what: string, money: Money | null, currency: string): Promise<Money> {
    return need(what, this.c.currency.call('Convert', { from: money, to_code: currency }));
  }

  private async ad(contextKeys: string[]): Promise<Ad | undefined> {
    const res = await optional(this.c.ad.call('GetAds', { context_keys: contextKeys }), { ads: [] });
    return res.ads[Math.floor(Math.random() * res.ads.length)];
  }

  private async recommendations(s: Session, productIds: string[]): Promise<Product[]> {
    const res = await optional(
      this.c.recommendation.call('ListRecommendations', { user_id: s.sessionId, product_ids: productIds }),
      { product_ids: [] },
    );
    const ids = res.product_ids.slice(0, MAX_RECOMMENDATIONS_SHOWN);
    const products = await Promise.all(
      ids.map((id) => optional(this.c.catalog.call('GetProduct', { id }), undefined as Product | undefined)),
    );
    return products.filter((p): p is Product => p !== undefined);
  }

  async home(s: Session): Promise<Page> {
    const [currencies, products, items, ad] = await Promise.all([
      this.currencies(),
      need('could not retrieve products', this.c.catalog.call('ListProducts', {})).then((r) => r.products),
      this.cartItems(s),
      this.ad([]),
    ]);
    const priced: PricedProduct[] = await Promise.all(
      products.map(async (product) => ({
        product,
        price: await this.convert(
          `failed to do currency conversion for product ${product.id}`,
          product.price_usd,
          s.currency,
        ),
      })),
    );
    return { status: 200, html: homePage({ ...this.base(s, cartSize(items), currencies), products: priced, ad }) };
  }

  async product(s: Session, id: string): Promise<Page> {
    if (!id) throw new HttpError(400, 'product id not specified');
    const product = await need('could not retrieve product', this.c.catalog.call('GetProduct', { id }));
    const [currencies, items, price, recommendations, ad] = await Promise.all([
      this.currencies(),
      this.cartItems(s),
      this.convert('failed to convert currency', product.price_usd, s.currency),
      this.recommendations(s, [id]),
      this.ad(product.categories),
    ]);
    return {
      status: 200,
      html: productPage({ ...this.base(s, cartSize(items), currencies), product, price, recommendations, ad }),
    };
  }

  async viewCart(s: Session): Promise<Page> {
    const [currencies, items] = await Promise.all([this.currencies(), this.cartItems(s)]);
    const [recommendations, quote, lines] = await Promise.all([
      this.recommendations(
        s,
        items.map((i) => i.product_id),
      ),
      items.length === 0
        ? Promise.resolve(undefined)
        : need('failed to get shipping quote', this.c.shipping.call('GetQuote', { address: null, items })),
      Promise.all(
        items.map(async (item): Promise<CartLine> => {
          const product = await need(
            `could not retrieve product #${item.product_id}`,
            this.c.catalog.call('GetProduct', { id: item.product_id }),
          );
          const price = await this.convert(
            `could not convert currency for product #${item.product_id}`,
            product.price_usd,
            s.currency,
          );
          return { product, quantity: item.quantity, price: multiply(price, item.quantity) };
        }),
      ),
    ]);
    let shippingCost: Money | undefined;
    let totalCost: Money | undefined;
    if (quote) {
      shippingCost = await this.convert('failed to convert currency for shipping cost', quote.cost_usd, s.currency);
      totalCost = lines.reduce((t, l) => sum(t, l.price), shippingCost);
    }
    const year = new Date().getUTCFullYear();
    return {
      status: 200,
      html: cartPage({
        ...this.base(s, cartSize(items), currencies),
        items: lines,
        shippingCost,
        totalCost,
        expirationYears: [0, 1, 2, 3, 4].map((i) => year + i),
        recommendations,
      }),
    };
  }

  async addToCart(s: Session, req: IncomingMessage): Promise<Page> {
    const { productId, quantity } = parseAddToCart(await readForm(req));
    await need('could not retrieve product', this.c.catalog.call('GetProduct', { id: productId }));
    await need(
      'failed to add to cart',
      this.c.cart.call('AddItem', { user_id: s.sessionId, item: { product_id: productId, quantity } }),
    );
    return { status: 302, location: '/cart' };
  }

  async emptyCart(s: Session): Promise<Page> {
    await need('failed to empty cart', this.c.cart.call('EmptyCart', { user_id: s.sessionId }));
    return { status: 302, location: '/' };
  }

  async placeOrder(s: Session, req: IncomingMessage): Promise<Page> {
    const form = parseCheckout(await readForm(req));
    // PlaceOrder fans out to six services sequentially, so it gets a longer deadline than one hop.
    const res = await need(
      'failed to complete the order',
      this.c.checkout.call(
        'PlaceOrder',
        {
          user_id: s.sessionId,
          user_currency: s.currency,
          address: form.address,
          email: form.email,
          credit_card: form.creditCard,
        },
        this.ctx.deadlineMs * 4,
      ),
    );
    const order = res.order;
    if (!order) throw new HttpError(500, 'failed to complete the order: checkoutservice returned no order');
    let total = order.shipping_cost ?? zero(s.currency);
    for (const it of order.items) if (it.cost && it.item) total = sum(total, multiply(it.cost, it.item.quantity));
    const recommendations = await this.recommendations(s, []);
    return {
      status: 200,
      html: orderPage({
        ...this.base(s, 0),
        orderId: order.order_id,
        trackingId: order.shipping_tracking_id,
        totalPaid: total,
        recommendations,
      }),
    };
  }

  async setCurrency(s: Session, req: IncomingMessage): Promise<Page> {
    const code = parseCurrency(await readForm(req));
    s.setCookies.push(`${CURRENCY_COOKIE}=${code}; Path=/; Max-Age=${COOKIE_MAX_AGE_S}`);
    const referer = req.headers.referer;
    return { status: 302, location: referer || '/' };
  }

  logout(s: Session, req: IncomingMessage): Page {
    for (const name of parseCookies(req.headers.cookie).keys()) {
      s.setCookies.push(`${name}=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT`);
    }
    return { status: 302, location: '/' };
  }

  async productMeta(id: string): Promise<Page> {
    try {
      const p = await this.c.catalog.call('GetProduct', { id });
      return { status: 200, text: JSON.stringify(p), contentType: 'application/json' };
    } catch {
      return { status: 200, text: '', contentType: 'application/json' };
    }
  }
}

/** Route templates, used as the `route` label (bounded cardinality). */
type Route =
  | '/'
  | '/product/{id}'
  | '/cart'
  | '/cart/empty'
  | '/cart/checkout'
  | '/setCurrency'
  | '/logout'
  | '/_healthz'
  | '/robots.txt'
  | '/product-meta/{ids}'
  | '/static'
  | '/metrics'
  | 'other';

function pathParam(path: string, prefix: string): string {
  try {
    return decodeURIComponent(path.slice(prefix.length));
  } catch {
    throw new HttpError(400, `malformed path ${path}`);
  }
}

function routeOf(path: string): Route {
  if (path === '/' || path === '/cart' || path === '/cart/empty' || path === '/cart/checkout') return path;
  if (path === '/setCurrency' || path === '/logout' || path === '/_healthz' || path === '/robots.txt') return path;
  if (path === '/metrics') return path;
  if (path.startsWith('/product/')) return '/product/{id}';
  if (path.startsWith('/product-meta/')) return '/product-meta/{ids}';
  if (path.startsWith('/static/')) return '/static';
  return 'other';
}

export const run: ServiceMain = async (ctx) => {
  const clientMetrics = createGrpcClientMetrics(ctx.registry);
  const port = requiredPort(ctx.env, 'PORT', 'the HTTP listen port');
  const d = ctx.deadlineMs;
  const e = ctx.env;
  const clients: Clients = {
    catalog: new BoutiqueClient(
      'productcatalogservice',
      'ProductCatalogService',
      requiredAddr(e, 'PRODUCT_CATALOG_SERVICE_ADDR'),
      d,
      clientMetrics,
    ),
    currency: new BoutiqueClient(
      'currencyservice',
      'CurrencyService',
      requiredAddr(e, 'CURRENCY_SERVICE_ADDR'),
      d,
      clientMetrics,
    ),
    cart: new BoutiqueClient('cartservice', 'CartService', requiredAddr(e, 'CART_SERVICE_ADDR'), d, clientMetrics),
    recommendation: new BoutiqueClient(
      'recommendationservice',
      'RecommendationService',
      requiredAddr(e, 'RECOMMENDATION_SERVICE_ADDR'),
      d,
      clientMetrics,
    ),
    shipping: new BoutiqueClient(
      'shippingservice',
      'ShippingService',
      requiredAddr(e, 'SHIPPING_SERVICE_ADDR'),
      d,
      clientMetrics,
    ),
    checkout: new BoutiqueClient(
      'checkoutservice',
      'CheckoutService',
      requiredAddr(e, 'CHECKOUT_SERVICE_ADDR'),
      d,
      clientMetrics,
    ),
    ad: new BoutiqueClient('adservice', 'AdService', requiredAddr(e, 'AD_SERVICE_ADDR'), d, clientMetrics),
  };
  const closeClients = (): void => {
    for (const c of Object.values(clients) as { close(): void }[]) c.close();
  };
  const fe = new Frontend(clients, ctx);
  const metrics = createHttpMetrics(ctx.registry);

  const dispatch = async (req: IncomingMessage, path: string, s: Session): Promise<Page> => {
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const onlyGet = (): void => {
      if (method !== 'GET') throw new HttpError(405, `${req.method ?? ''} not allowed on ${path}`);
    };
    const onlyPost = (): void => {
      if (method !== 'POST') throw new HttpError(405, `${req.method ?? ''} not allowed on ${path}`);
    };
    const route = routeOf(path);
    switch (route) {
      case '/':
        onlyGet();
        return fe.home(s);
      case '/product/{id}':
        onlyGet();
        return fe.product(s, pathParam(path, '/product/'));
      case '/cart':
        if (method === 'POST') return fe.addToCart(s, req);
        onlyGet();
        return fe.viewCart(s);
      case '/cart/empty':
        onlyPost();
        return fe.emptyCart(s);
      case '/cart/checkout':
        onlyPost();
        return fe.placeOrder(s, req);
      case '/setCurrency':
        onlyPost();
        return fe.setCurrency(s, req);
      case '/logout':
        onlyGet();
        return fe.logout(s, req);
      case '/_healthz':
        return { status: 200, text: 'ok' };
      case '/robots.txt':
        return { status: 200, text: 'User-agent: *\nDisallow: /' };
      case '/product-meta/{ids}':
        onlyGet();
        return fe.productMeta(pathParam(path, '/product-meta/'));
      case '/static':
        onlyGet();
        return { status: 200, ...staticAsset(path) };
      case '/metrics': {
        onlyGet();
        const m = await renderMetrics(ctx.registry);
        return { status: 200, text: m.body, contentType: m.contentType };
      }
      case 'other':
        return { status: 404, text: '404 page not found\n' };
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const t0 = process.hrtime.bigint();
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = routeOf(path);
    const method = req.method ?? 'GET';
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      metrics.requests.inc({ method, route, code: String(res.statusCode) });
      metrics.duration.observe({ method, route }, seconds);
    });
    const cookies = parseCookies(req.headers.cookie);
    const s: Session = {
      sessionId: cookies.get(SESSION_COOKIE) ?? '',
      requestId: randomUUID(),
      currency: cookies.get(CURRENCY_COOKIE) || 'USD',
      setCookies: [],
    };
    const isPage = route !== '/_healthz' && route !== '/metrics' && route !== '/static' && route !== '/robots.txt';
    if (!s.sessionId && isPage) {
      s.sessionId = randomUUID();
      s.setCookies.push(`${SESSION_COOKIE}=${s.sessionId}; Path=/; Max-Age=${COOKIE_MAX_AGE_S}`);
    }
    let page: Page;
    try {
      page = await dispatch(req, path, s);
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      const details = err instanceof Error ? err.message : String(err);
      if (status >= 500) ctx.logger.warn('request failed', { method, path, status, details });
      page = {
        status,
        html: errorPage({
          sessionId: s.sessionId,
          requestId: s.requestId,
          userCurrency: s.currency,
          cartSize: 0,
          status,
          details,
        }),
      };
    }
    const headers: Record<string, string | string[]> = {};
    if (s.setCookies.length > 0) headers['set-cookie'] = s.setCookies;
    if (page.location) headers['location'] = page.location;
    const body = page.html ?? page.text ?? '';
    headers['content-type'] =
      page.html !== undefined ? 'text/html; charset=utf-8' : (page.contentType ?? 'text/plain; charset=utf-8');
    headers['content-length'] = String(Buffer.byteLength(body));
    res.writeHead(page.status, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      ctx.logger.error('unhandled request error', { error: String(err) });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end();
    });
  });
  server.keepAliveTimeout = 5000;
  try {
    await listenOn(server, ctx.host, port, 'PORT');
  } catch (err) {
    closeClients();
    throw err;
  }
  return {
    ports: { PORT: port },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(timer);
      closeClients();
    },
  };
};
