import * as grpc from '@grpc/grpc-js';
import rates from '../data/currency-conversion.json';
import { GrpcError } from '../grpc-server';
import { fromNanos, isValid, parseDecimal, toNanos, type Decimal } from '../money';
import { serveGrpc, type ServiceMain } from '../service';
import type { Money } from '../types';

/** EUR-based rates: 1 EUR = rate units of the currency. */
export function loadRates(): Map<string, Decimal> {
  return new Map(Object.entries(rates as Record<string, string>).map(([code, r]) => [code, parseDecimal(r)]));
}

/**
 * from → EUR → to, exactly: amount × rate(to) / rate(from), truncated to whole nanos like upstream's
 * floor-based carry.
 */
export function convert(table: Map<string, Decimal>, from: Money, toCode: string): Money {
  const rf = table.get(from.currency_code);
  const rt = table.get(toCode);
  if (!rf) throw new GrpcError(grpc.status.INVALID_ARGUMENT, `unsupported currency ${from.currency_code}`);
  if (!rt) throw new GrpcError(grpc.status.INVALID_ARGUMENT, `unsupported currency ${toCode}`);
  const nanos = (toNanos(from) * rt.numerator * rf.denominator) / (rt.denominator * rf.numerator);
  return fromNanos(toCode, nanos);
}

export const run: ServiceMain = (ctx) => {
  const table = loadRates();
  const codes = [...table.keys()];
  return serveGrpc(ctx, (server) =>
    server.addService('CurrencyService', {
      GetSupportedCurrencies: () => ({ currency_codes: codes }),
      Convert: (req) => {
        if (!req.from || !isValid(req.from)) {
          throw new GrpcError(grpc.status.INVALID_ARGUMENT, `invalid money ${JSON.stringify(req.from)}`);
        }
        return convert(table, req.from, req.to_code);
      },
    }),
  );
};
