import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { GrpcError } from '../grpc-server';
import { isValid, render } from '../money';
import { serveGrpc, type ServiceMain } from '../service';
import { cardType, luhnValid } from '../card';
import type { CreditCardInfo, Money } from '../types';

/**
 * Upstream charge.js: the number must be a valid card, VISA or MasterCard only, and not expired
 * (compared at month granularity); then a transaction id is issued.
 */
export function charge(amount: Money | null, card: CreditCardInfo | null, now = new Date()): string {
  if (!amount || !isValid(amount) || amount.units < 0 || amount.nanos < 0) {
    throw new GrpcError(grpc.status.INVALID_ARGUMENT, `invalid amount ${JSON.stringify(amount)}`);
  }
  if (!card) throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'credit_card is required');
  const digits = card.credit_card_number.replace(/[\s-]/g, '');
  if (!/^\d{12,19}$/.test(digits) || !luhnValid(digits)) {
    throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'Credit card info is invalid');
  }
  const type = cardType(digits);
  if (type !== 'visa' && type !== 'mastercard') {
    throw new GrpcError(
      grpc.status.INVALID_ARGUMENT,
      `Sorry, we cannot process ${type} credit cards. Only VISA or MasterCard is accepted.`,
    );
  }
  const { credit_card_expiration_month: month, credit_card_expiration_year: year } = card;
  if (month < 1 || month > 12) throw new GrpcError(grpc.status.INVALID_ARGUMENT, `invalid expiration month ${month}`);
  if (now.getUTCFullYear() * 12 + now.getUTCMonth() + 1 > year * 12 + month) {
    throw new GrpcError(
      grpc.status.INVALID_ARGUMENT,
      `Your credit card (ending ${digits.slice(-4)}) expired on ${month}/${year}`,
    );
  }
  if (!Number.isInteger(card.credit_card_cvv) || card.credit_card_cvv < 0 || card.credit_card_cvv > 9999) {
    throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'invalid CVV');
  }
  return randomUUID();
}

export const run: ServiceMain = (ctx) =>
  serveGrpc(ctx, (server) =>
    server.addService('PaymentService', {
      Charge: (req) => {
        const transactionId = charge(req.amount, req.credit_card);
        if (req.amount) ctx.logger.info('transaction processed', { transactionId, amount: render(req.amount) });
        return { transaction_id: transactionId };
      },
    }),
  );
