import { currencySymbol, render as renderMoney } from '../money';
import type { Ad, Money, Product } from '../types';

/**
 * The frontend pages. Structure, classes, ids and texts follow upstream's templates
 * (src/frontend/templates/*.html) as far as the reference README lists what a browser test
 * asserts on; styling is left out.
 */

export function esc(s: string | number): string {
  return String(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export interface PageBase {
  sessionId: string;
  requestId: string;
  userCurrency: string;
  /** Currencies for the header selector; absent hides the currency form (order and error pages). */
  currencies?: string[];
  /** Total quantity in the cart; the badge shows only when > 0. */
  cartSize: number;
}

function header(p: PageBase): string {
  const currencyForm = p.currencies
    ? `<div class="h-controls"><div class="h-control">
        <span class="icon currency-icon">${esc(currencySymbol(p.userCurrency).trim())}</span>
        <form method="POST" class="controls-form" action="/setCurrency" id="currency_form">
          <select name="currency_code" onchange="document.getElementById('currency_form').submit();">
            ${p.currencies.map((c) => `<option value="${esc(c)}"${c === p.userCurrency ? ' selected="selected"' : ''}>${esc(c)}</option>`).join('\n            ')}
          </select>
        </form>
      </div></div>`
    : '';
  const badge = p.cartSize > 0 ? `<span class="cart-size-circle">${p.cartSize}</span>` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta name="viewport" content="width=device-width, initial-scale=1, shrink-to-fit=no">
  <title>Online Boutique</title>
  <link rel="stylesheet" type="text/css" href="/static/styles/styles.css">
</head>
<body>
<header>
  <div class="navbar sub-navbar">
    <div class="container d-flex justify-content-between">
      <a href="/" class="navbar-brand d-flex align-items-center"><img src="/static/icons/Hipster_NavLogo.svg" alt="" class="top-left-logo">Online Boutique</a>
      <div class="controls">
      ${currencyForm}
      <a href="/cart" class="cart-link"><img src="/static/icons/Hipster_CartIcon.svg" alt="Cart icon" class="logo" title="Cart">${badge}</a>
      </div>
    </div>
  </div>
</header>
`;
}

function footer(p: PageBase): string {
  return `<footer class="py-5">
  <div class="footer-top">
    <div class="container footer-social">
      <p class="footer-text">This website is hosted for demo purposes only. It is not an actual shop. This is not a Google product.</p>
      <p class="footer-text"><small>session-id: ${esc(p.sessionId)} — request-id: ${esc(p.requestId)}</small></p>
    </div>
  </div>
</footer>
</body>
</html>
`;
}

export interface PricedProduct {
  product: Product;
  price: Money;
}

export function homePage(p: PageBase & { products: PricedProduct[]; ad?: Ad }): string {
  const cards = p.products
    .map(
      ({ product, price }) => `<div class="col-md-4 hot-product-card">
            <a href="/product/${esc(product.id)}"><img alt="" src="${esc(product.picture)}"><div class="hot-product-card-img-overlay"></div></a>
            <div>
              <div class="hot-product-card-name">${esc(product.name)}</div>
              <div class="hot-product-card-price">${esc(renderMoney(price))}</div>
            </div>
          </div>`,
    )
    .join('\n          ');
  return `${header(p)}<main role="main" class="home">
  <div class="container-fluid">
    <div class="row">
      <div class="col-12 col-lg-8 offset-lg-2">
        <div class="row hot-products-row px-xl-6">
          <div class="col-12"><h3>Hot Products</h3></div>
          ${cards}
        </div>
      </div>
    </div>
  </div>
  ${p.ad ? adBox(p.ad) : ''}
</main>
${footer(p)}`;
}

function adBox(ad: Ad): string {
  return `<div class="ad">
    <div class="container py-3 px-lg-5 py-lg-5">
      <div role="alert"><strong>Ad</strong> <a href="${esc(ad.redirect_url)}" rel="nofollow" target="_blank">${esc(ad.text)}</a></div>
    </div>
  </div>`;
}

function recommendations(recs: Product[]): string {
  if (recs.length === 0) return '';
  return `<section class="recommendations">
    <div class="container">
      <div class="row">
        <div class="col-xl-10 offset-xl-1">
          <h2>You May Also Like</h2>
          <div class="row">
            ${recs
              .map(
                (r) => `<div class="col-md-3">
              <div>
                <a href="/product/${esc(r.id)}"><img alt="" src="${esc(r.picture)}"></a>
                <div><h5>${esc(r.name)}</h5></div>
              </div>
            </div>`,
              )
              .join('\n            ')}
          </div>
        </div>
      </div>
    </div>
  </section>`;
}

export function productPage(
  p: PageBase & { product: Product; price: Money; recommendations: Product[]; ad?: Ad },
): string {
  const { product } = p;
  return `${header(p)}<main role="main">
  <div class="h-product container">
    <div class="row">
      <div class="col-md-6"><img class="product-image" alt="" src="${esc(product.picture)}"></div>
      <div class="product-info col-md-5">
        <div class="product-wrapper">
          <h2>${esc(product.name)}</h2>
          <p class="product-price">${esc(renderMoney(p.price))}</p>
          <p>${esc(product.description)}</p>
          <form method="POST" action="/cart">
            <input type="hidden" name="product_id" value="${esc(product.id)}">
            <div class="product-quantity-dropdown">
              <select name="quantity" id="quantity">
                <option>1</option>
                <option>2</option>
                <option>3</option>
                <option>4</option>
                <option>5</option>
                <option>10</option>
              </select>
            </div>
            <button type="submit" class="cymbal-button-primary">Add To Cart</button>
          </form>
        </div>
      </div>
    </div>
  </div>
  ${recommendations(p.recommendations)}
  ${p.ad ? adBox(p.ad) : ''}
</main>
${footer(p)}`;
}

export interface CartLine {
  product: Product;
  quantity: number;
  /** price × quantity in the user's currency */
  price: Money;
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  // Upstream's template labels option 12 "January"; kept so page assertions written for it hold.
  'January',
];

export function cartPage(
  p: PageBase & {
    items: CartLine[];
    shippingCost?: Money;
    totalCost?: Money;
    expirationYears: number[];
    recommendations: Product[];
  },
): string {
  if (p.items.length === 0) {
    return `${header(p)}<main role="main" class="cart-sections">
  <section class="empty-cart-section">
    <h3>Your shopping cart is empty!</h3>
    <p>Items you add to your shopping cart will appear here.</p>
    <a class="cymbal-button-primary" href="/" role="button">Continue Shopping</a>
  </section>
  ${recommendations(p.recommendations)}
</main>
${footer(p)}`;
  }
  const rows = p.items
    .map(
      (it) => `<div class="row cart-summary-item-row">
          <div class="col-md-4 pl-md-0"><a href="/product/${esc(it.product.id)}"><img class="img-fluid" alt="" src="${esc(it.product.picture)}"></a></div>
          <div class="col-md-8 pr-md-0">
            <div class="row"><div class="col"><h4>${esc(it.product.name)}</h4></div></div>
            <div class="row cart-summary-item-row-item-id-row"><div class="col">SKU #${esc(it.product.id)}</div></div>
            <div class="row">
              <div class="col">Quantity: ${it.quantity}</div>
              <div class="col pr-md-0 text-right"><strong>${esc(renderMoney(it.price))}</strong></div>
            </div>
          </div>
        </div>`,
    )
    .join('\n        ');
  const years = p.expirationYears
    .map((y, i) => `<option value="${y}"${i === 1 ? ' selected="selected"' : ''}>${y}</option>`)
    .join('');
  const months = MONTHS.map((m, i) => `<option value="${i + 1}">${m}</option>`).join('\n                ');
  return `${header(p)}<main role="main" class="cart-sections">
  <section class="container">
    <div class="row">
      <div class="col-lg-6 col-xl-5 offset-xl-1 cart-summary-section">
        <div class="row mb-3 py-2">
          <div class="col-4 pl-md-0"><h3>Cart (${p.cartSize})</h3></div>
          <div class="col-8 pr-md-0 text-right">
            <form method="POST" action="/cart/empty">
              <button class="cymbal-button-secondary cart-summary-empty-cart-button" type="submit">Empty Cart</button>
              <a class="cymbal-button-primary" href="/" role="button">Continue Shopping</a>
            </form>
          </div>
        </div>
        ${rows}
        <div class="row cart-summary-shipping-row">
          <div class="col pl-md-0">Shipping</div>
          <div class="col pr-md-0 text-right">${p.shippingCost ? esc(renderMoney(p.shippingCost)) : ''}</div>
        </div>
        <div class="row cart-summary-total-row">
          <div class="col pl-md-0">Total</div>
          <div class="col pr-md-0 text-right">${p.totalCost ? esc(renderMoney(p.totalCost)) : ''}</div>
        </div>
      </div>
      <div class="col-lg-5 offset-lg-1 col-xl-4">
        <form class="cart-checkout-form" action="/cart/checkout" method="POST">
          <div class="row"><div class="col"><h3>Shipping Address</h3></div></div>
          <div class="form-row">
            <div class="col cymbal-form-field"><label for="email">E-mail Address</label>
              <input type="email" id="email" name="email" value="someone@example.com" required></div>
          </div>
          <div class="form-row">
            <div class="col cymbal-form-field"><label for="street_address">Street Address</label>
              <input type="text" id="street_address" name="street_address" value="1600 Amphitheatre Parkway" required></div>
          </div>
          <div class="form-row">
            <div class="col cymbal-form-field"><label for="zip_code">Zip Code</label>
              <input type="text" id="zip_code" name="zip_code" value="94043" required pattern="\\d{4,5}"></div>
          </div>
          <div class="form-row">
            <div class="col cymbal-form-field"><label for="city">City</label>
              <input type="text" id="city" name="city" value="Mountain View" required></div>
          </div>
          <div class="form-row">
            <div class="col-md-5 cymbal-form-field"><label for="state">State</label>
              <input type="text" id="state" name="state" value="CA" required></div>
            <div class="col-md-7 cymbal-form-field"><label for="country">Country</label>
              <input type="text" id="country" name="country" placeholder="Country Name" value="United States" required></div>
          </div>
          <div class="row"><div class="col"><h3 class="payment-method-heading">Payment Method</h3></div></div>
          <div class="form-row">
            <div class="col cymbal-form-field"><label for="credit_card_number">Credit Card Number</label>
              <input type="text" id="credit_card_number" name="credit_card_number" placeholder="0000-0000-0000-0000" value="4432801561520454" required pattern="\\d{16}"></div>
          </div>
          <div class="form-row">
            <div class="col-md-5 cymbal-form-field"><label for="credit_card_expiration_month">Month</label>
              <select name="credit_card_expiration_month" id="credit_card_expiration_month">
                ${months}
              </select></div>
            <div class="col-md-4 cymbal-form-field"><label for="credit_card_expiration_year">Year</label>
              <select name="credit_card_expiration_year" id="credit_card_expiration_year">${years}</select></div>
            <div class="col-md-3 cymbal-form-field"><label for="credit_card_cvv">CVV</label>
              <input type="password" id="credit_card_cvv" name="credit_card_cvv" value="672" required pattern="\\d{3}"></div>
          </div>
          <div class="form-row justify-content-center">
            <div class="col text-center"><button class="cymbal-button-primary" type="submit">Place Order</button></div>
          </div>
        </form>
      </div>
    </div>
  </section>
  ${recommendations(p.recommendations)}
</main>
${footer(p)}`;
}

export function orderPage(
  p: PageBase & { orderId: string; trackingId: string; totalPaid: Money; recommendations: Product[] },
): string {
  return `${header(p)}<main role="main" class="order">
  <section class="container order-complete-section">
    <div class="row">
      <div class="col-12 text-center"><h3>Your order is complete!</h3></div>
      <div class="col-12 text-center"><p>We've sent you a confirmation email.</p></div>
    </div>
    <div class="row border-bottom-solid padding-y-24">
      <div class="col-6 pl-md-0">Confirmation #</div>
      <div class="col-6 pr-md-0 text-right">${esc(p.orderId)}</div>
    </div>
    <div class="row border-bottom-solid padding-y-24">
      <div class="col-6 pl-md-0">Tracking #</div>
      <div class="col-6 pr-md-0 text-right">${esc(p.trackingId)}</div>
    </div>
    <div class="row padding-y-24">
      <div class="col-6 pl-md-0">Total Paid</div>
      <div class="col-6 pr-md-0 text-right">${esc(renderMoney(p.totalPaid))}</div>
    </div>
    <div class="row">
      <div class="col-12 text-center"><a class="cymbal-button-primary" href="/" role="button">Continue Shopping</a></div>
    </div>
  </section>
  ${recommendations(p.recommendations)}
</main>
${footer(p)}`;
}

export const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Payload Too Large',
  422: 'Unprocessable Entity',
  500: 'Internal Server Error',
};

export function errorPage(p: PageBase & { status: number; details: string }): string {
  return `${header(p)}<main role="main">
  <div class="container py-5 px-lg-5 py-lg-5">
    <div class="row">
      <div class="col-12 col-lg-8 offset-lg-2">
        <h1>Uh, oh!</h1>
        <p>Something has failed. Below are some details for debugging.</p>
        <p><strong>HTTP Status:</strong> ${p.status} ${esc(STATUS_TEXT[p.status] ?? '')}</p>
        <pre class="border border-danger p-3">${esc(p.details)}</pre>
      </div>
    </div>
  </div>
</main>
${footer(p)}`;
}
