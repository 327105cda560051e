import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { requiredAddr } from '../env';
import { BoutiqueClient } from '../grpc-client';
import { createGrpcClientMetrics } from '../metrics';
import { GrpcError, hopDeadlineMs } from '../grpc-server';
import { assertValid, multiply, sum } from '../money';
import { serveGrpc, type RunContext, type ServiceMain } from '../service';
import type { Methods, OrderItem, OrderResult } from '../types';

type PlaceOrderRequest = Methods['CheckoutService']['PlaceOrder'][0];

export interface CheckoutDeps {
  catalog: BoutiqueClient<'ProductCatalogService'>;
  currency: BoutiqueClient<'CurrencyService'>;
  cart: BoutiqueClient<'CartService'>;
  shipping: BoutiqueClient<'ShippingService'>;
  payment: BoutiqueClient<'PaymentService'>;
  email: BoutiqueClient<'EmailService'>;
}

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Upstream checkoutservice's PlaceOrder, step by step (see the reference README). */
export async function placeOrder(
  deps: CheckoutDeps,
  req: PlaceOrderRequest,
  ctx: RunContext,
  /** Deadline (ms) for the next outgoing call; throws DeadlineExceeded when the caller's deadline has passed. */
  hop: () => number,
): Promise<OrderResult> {
  if (!req.user_id) throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'user_id is required');
  if (!/^[A-Z]{3}$/.test(req.user_currency)) {
    throw new GrpcError(grpc.status.INVALID_ARGUMENT, `invalid user_currency ${JSON.stringify(req.user_currency)}`);
  }
  if (!req.address) throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'address is required');
  if (!req.credit_card) throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'credit_card is required');

  const orderId = randomUUID();
  // Steps 2-5 fail the order with Internal, naming the failing dependency.
  const internal = async <T>(what: string, op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch (err) {
      if (err instanceof GrpcError && err.code === grpc.status.DEADLINE_EXCEEDED) throw err;
      throw new GrpcError(grpc.status.INTERNAL, `${what}: ${errText(err)}`);
    }
  };

  const cart = await internal('failed to get user cart during checkout', () =>
    deps.cart.call('GetCart', { user_id: req.user_id }, hop()),
  );
  const items: OrderItem[] = await internal('failed to prepare order', () =>
    Promise.all(
      cart.items.map(async (item) => {
        const product = await deps.catalog.call('GetProduct', { id: item.product_id }, hop());
        const cost = await deps.currency.call(
          'Convert',
          { from: product.price_usd, to_code: req.user_currency },
          hop(),
        );
        return { item, cost: assertValid(cost, `price of ${item.product_id}`) };
      }),
    ),
  );
  const quoteUsd = await internal('failed to get shipping quote', async () =>
    assertValid(
      (await deps.shipping.call('GetQuote', { address: req.address, items: cart.items }, hop())).cost_usd,
      'quote',
    ),
  );
  const shippingCost = await internal('failed to convert shipping cost to currency', async () =>
    assertValid(await deps.currency.call('Convert', { from: quoteUsd, to_code: req.user_currency }, hop()), 'shipping'),
  );
  let total = shippingCost;
  for (const it of items) if (it.cost && it.item) total = sum(total, multiply(it.cost, it.item.quantity));

  const charge = await internal('failed to charge card', () =>
    deps.payment.call('Charge', { amount: total, credit_card: req.credit_card }, hop()),
  );
  // Once the card is charged the order is completed even if the caller has stopped waiting.
  let trackingId: string;
  try {
    trackingId = (await deps.shipping.call('ShipOrder', { address: req.address, items: cart.items }, ctx.deadlineMs))
      .tracking_id;
  } catch (err) {
    throw new GrpcError(grpc.status.UNAVAILABLE, `shipping error: ${errText(err)}`);
  }
  // The order is paid and shipped: later failures are logged, never returned (as upstream).
  await deps.cart.call('EmptyCart', { user_id: req.user_id }, ctx.deadlineMs).catch((err: unknown) => {
    ctx.logger.warn('failed to empty cart after order', { orderId, error: errText(err) });
  });
  const order: OrderResult = {
    order_id: orderId,
    shipping_tracking_id: trackingId,
    shipping_cost: shippingCost,
    shipping_address: req.address,
    items,
  };
  await deps.email.call('SendOrderConfirmation', { email: req.email, order }, ctx.deadlineMs).catch((err: unknown) => {
    ctx.logger.warn('failed to send order confirmation', { orderId, to: req.email, error: errText(err) });
  });
  ctx.logger.info('order placed', { orderId, transactionId: charge.transaction_id });
  return order;
}

export const run: ServiceMain = (ctx) => {
  const clientMetrics = createGrpcClientMetrics(ctx.registry);
  const d = ctx.deadlineMs;
  const deps: CheckoutDeps = {
    catalog: new BoutiqueClient(
      'productcatalogservice',
      'ProductCatalogService',
      requiredAddr(ctx.env, 'PRODUCT_CATALOG_SERVICE_ADDR'),
      d,
      clientMetrics,
    ),
    currency: new BoutiqueClient(
      'currencyservice',
      'CurrencyService',
      requiredAddr(ctx.env, 'CURRENCY_SERVICE_ADDR'),
      d,
      clientMetrics,
    ),
    cart: new BoutiqueClient(
      'cartservice',
      'CartService',
      requiredAddr(ctx.env, 'CART_SERVICE_ADDR'),
      d,
      clientMetrics,
    ),
    shipping: new BoutiqueClient(
      'shippingservice',
      'ShippingService',
      requiredAddr(ctx.env, 'SHIPPING_SERVICE_ADDR'),
      d,
      clientMetrics,
    ),
    payment: new BoutiqueClient(
      'paymentservice',
      'PaymentService',
      requiredAddr(ctx.env, 'PAYMENT_SERVICE_ADDR'),
      d,
      clientMetrics,
    ),
    email: new BoutiqueClient(
      'emailservice',
      'EmailService',
      requiredAddr(ctx.env, 'EMAIL_SERVICE_ADDR'),
      d,
      clientMetrics,
    ),
  };
  return serveGrpc(
    ctx,
    (server) =>
      server.addService('CheckoutService', {
        PlaceOrder: async (req, call) => ({
          order: await placeOrder(deps, req, ctx, () => hopDeadlineMs(call, d)),
        }),
      }),
    {
      onClose: () => {
        for (const c of Object.values(deps) as { close(): void }[]) c.close();
      },
    },
  );
};
