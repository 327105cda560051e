import type { RequestSpec } from './http-client';
import type { TaskWeights, TrafficTask } from '../../schemas/traffic';
import { TRAFFIC_TASKS } from '../../schemas/traffic';

/** Product ids of Online Boutique's catalogue (src/productcatalogservice/products.json, locustfile). */
export const PRODUCT_IDS = [
  '0PUK6V6EV0',
  '1YMWWN1N4O',
  '2ZYFJ3GM2N',
  '66VCHSJNUP',
  '6E92ZMYYFZ',
  '9SIQT8TOJO',
  'L9ECAV7KIM',
  'LS4PSXUNUM',
  'OLJCESPC7Z',
] as const;

/** Currencies the locustfile's setCurrency picks from. */
export const CURRENCIES = ['EUR', 'USD', 'JPY', 'CAD', 'GBP', 'TRY'] as const;

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
const int = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

/** A 16-digit VISA number passing the Luhn check (the frontend validates it; payment accepts VISA). */
export function visaNumber(r: () => number): string {
  const digits = [4];
  while (digits.length < 15) digits.push(int(r, 0, 9));
  let sum = 0;
  // Luhn over the 15 digits with the check digit still to come: double every second from the right
  for (let i = 0; i < 15; i++) {
    let d = digits[14 - i] as number;
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  digits.push((10 - (sum % 10)) % 10);
  return digits.join('');
}

export function luhnValid(num: string): boolean {
  let sum = 0;
  for (let i = 0; i < num.length; i++) {
    let d = Number(num[num.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

const STREETS = ['Amphitheatre Parkway', 'Main Street', 'Oak Avenue', 'Maple Drive', 'Elm Street', 'Cedar Lane'];
const CITIES = ['Mountain View', 'Springfield', 'Riverside', 'Fairview', 'Madison', 'Georgetown'];
const STATES = ['CA', 'NY', 'TX', 'WA', 'OR', 'IL'];
const FIRST = ['alex', 'sam', 'kim', 'lee', 'maria', 'john', 'ana', 'yuki'];

/** Checkout form fields as the locustfile's Faker fills them (frontend handlers.go placeOrderHandler). */
export function checkoutForm(r: () => number, nowYear = new Date().getUTCFullYear()): Record<string, string> {
  return {
    email: `${pick(r, FIRST)}${int(r, 1, 9999)}@example.com`,
    street_address: `${int(r, 1, 9999)} ${pick(r, STREETS)}`,
    zip_code: String(int(r, 10000, 99999)),
    city: pick(r, CITIES),
    state: pick(r, STATES),
    country: 'United States',
    credit_card_number: visaNumber(r),
    credit_card_expiration_month: String(int(r, 1, 12)),
    credit_card_expiration_year: String(nowYear + int(r, 1, 5)),
    credit_card_cvv: String(int(r, 100, 999)),
  };
}

const productPage = (id: string): RequestSpec => ({ label: 'browseProduct', method: 'GET', path: `/product/${id}` });
const addToCart = (r: () => number): RequestSpec[] => {
  const id = pick(r, PRODUCT_IDS);
  return [
    productPage(id),
    { label: 'addToCart', method: 'POST', path: '/cart', form: { product_id: id, quantity: String(int(r, 1, 10)) } },
  ];
};

/** The requests of one task, with one label per request (the label names the task it serves). */
export function taskRequests(task: TrafficTask, r: () => number, referer: string): RequestSpec[] {
  switch (task) {
    case 'index':
      return [{ label: 'index', method: 'GET', path: '/' }];
    case 'setCurrency':
      return [
        {
          label: 'setCurrency',
          method: 'POST',
          path: '/setCurrency',
          form: { currency_code: pick(r, CURRENCIES) },
          headers: { referer },
        },
      ];
    case 'browseProduct':
      return [productPage(pick(r, PRODUCT_IDS))];
    case 'addToCart':
      return addToCart(r);
    case 'viewCart':
      return [{ label: 'viewCart', method: 'GET', path: '/cart' }];
    case 'checkout':
      return [...addToCart(r), { label: 'checkout', method: 'POST', path: '/cart/checkout', form: checkoutForm(r) }];
  }
}

/** Weighted task choice, as Locust's task dict: P(task) = weight / Σ weights. */
export function taskPicker(weights: TaskWeights): (r: () => number) => TrafficTask {
  const tasks = TRAFFIC_TASKS.filter((t) => weights[t] > 0);
  const cum: number[] = [];
  let total = 0;
  for (const t of tasks) cum.push((total += weights[t]));
  return (r) => {
    const x = r() * total;
    for (let i = 0; i < tasks.length; i++) if (x < (cum[i] as number)) return tasks[i] as TrafficTask;
    return tasks[tasks.length - 1] as TrafficTask;
  };
}
