import * as grpc from '@grpc/grpc-js';
import { randomInt } from 'node:crypto';
import { GrpcError } from '../grpc-server';
import { fromDecimal, zero } from '../money';
import { serveGrpc, type ServiceMain } from '../service';
import type { Address, CartItem, Money } from '../types';

/** Upstream quote: a flat USD 8.99 for any non-empty cart. */
export function quote(items: CartItem[]): Money {
  const count = items.reduce((n, i) => n + Math.max(0, i.quantity), 0);
  return count > 0 ? fromDecimal('USD', '8.99') : zero('USD');
}

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const digits = (n: number): string => Array.from({ length: n }, () => String(randomInt(10))).join('');

/** Upstream's tracker.go format: two letters, then lengths of the address salt and random digits. */
export function trackingId(address: Address): string {
  const salt = `${address.street_address}, ${address.city}, ${address.state}`;
  const letter = (): string => LETTERS[randomInt(LETTERS.length)] ?? 'A';
  return `${letter()}${letter()}-${salt.length}${digits(3)}-${Math.floor(salt.length / 2)}${digits(7)}`;
}

export const run: ServiceMain = (ctx) =>
  serveGrpc(ctx, (server) =>
    server.addService('ShippingService', {
      GetQuote: (req) => ({ cost_usd: quote(req.items) }),
      ShipOrder: (req) => {
        if (!req.address?.street_address) {
          throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'a shipping address is required');
        }
        return { tracking_id: trackingId(req.address) };
      },
    }),
  );
