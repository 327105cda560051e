import * as grpc from '@grpc/grpc-js';
import { GrpcError } from '../grpc-server';
import { multiply, render, sum, zero } from '../money';
import { serveGrpc, type ServiceMain } from '../service';
import type { OrderResult } from '../types';

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** The plain-text order confirmation (upstream renders templates/confirmation.html the same way). */
export function renderConfirmation(order: OrderResult): string {
  const currency = order.shipping_cost?.currency_code ?? 'USD';
  let total = order.shipping_cost ?? zero(currency);
  const lines = order.items.map((it) => {
    const cost = it.cost ?? zero(currency);
    const qty = it.item?.quantity ?? 0;
    total = sum(total, multiply(cost, qty));
    return `  ${it.item?.product_id ?? '?'}  x${qty}  ${render(cost)} each`;
  });
  const a = order.shipping_address;
  return [
    'Your Order Confirmation',
    'Thanks for shopping with us!',
    '',
    `Order ID: #${order.order_id}`,
    `Shipping tracking ID: ${order.shipping_tracking_id}`,
    `Ship to: ${a ? `${a.street_address}, ${a.city}, ${a.state} ${a.zip_code}, ${a.country}` : '(none)'}`,
    '',
    'Items:',
    ...lines,
    `Shipping: ${render(order.shipping_cost ?? zero(currency))}`,
    `Total: ${render(total)}`,
    '',
  ].join('\n');
}

export const run: ServiceMain = (ctx) =>
  serveGrpc(ctx, (server) =>
    server.addService('EmailService', {
      SendOrderConfirmation: (req) => {
        if (!EMAIL_RE.test(req.email)) throw new GrpcError(grpc.status.INVALID_ARGUMENT, `invalid email ${req.email}`);
        if (!req.order?.order_id) throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'order is required');
        let body: string;
        try {
          body = renderConfirmation(req.order);
        } catch (err) {
          throw new GrpcError(grpc.status.INVALID_ARGUMENT, `cannot render order: ${String(err)}`);
        }
        // Like upstream's dummy mode: the mail is rendered but not delivered anywhere.
        ctx.logger.info('order confirmation rendered', {
          to: req.email,
          orderId: req.order.order_id,
          bytes: Buffer.byteLength(body),
        });
        return {};
      },
    }),
  );
