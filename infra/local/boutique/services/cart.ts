import * as grpc from '@grpc/grpc-js';
import { createClient } from 'redis';
import { requiredAddr } from '../env';
import { GrpcError } from '../grpc-server';
import { serveGrpc, type ServiceMain } from '../service';
import type { CartItem } from '../types';

/** Carts expire like upstream's session cookie (48 h) so a long campaign does not grow Redis forever. */
const CART_TTL_S = 48 * 3600;
const MAX_QUANTITY_PER_ITEM = 1_000_000;

/** One Redis hash per user: field = product id, value = quantity (HINCRBY makes AddItem atomic). */
const cartKey = (userId: string): string => `cart:${userId}`;

export const run: ServiceMain = async (ctx) => {
  const redisAddr = requiredAddr(ctx.env, 'REDIS_ADDR');
  const redis = createClient({
    url: `redis://${redisAddr}`,
    // Fail calls at once while Redis is down (the caller sees FailedPrecondition) instead of queueing them.
    disableOfflineQueue: true,
    socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000) },
  });
  let lastError = '';
  redis.on('error', (err: unknown) => {
    const msg = err instanceof Error ? err.message : String(err);
    if (msg !== lastError) ctx.logger.warn('redis error', { redis: redisAddr, error: msg });
    lastError = msg;
  });
  redis.on('ready', () => {
    lastError = '';
    ctx.logger.info('redis ready', { redis: redisAddr });
  });
  // Not awaited: the service starts and reports NOT_SERVING until Redis answers (like upstream's
  // health check, which pings the store).
  redis.connect().catch((err: unknown) => ctx.logger.warn('redis connect failed', { error: String(err) }));

  const storage = async <T>(op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch (err) {
      if (err instanceof GrpcError) throw err;
      throw new GrpcError(
        grpc.status.FAILED_PRECONDITION,
        `Can't access cart storage (redis at ${redisAddr}): ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  };
  const needUser = (userId: string): void => {
    if (!userId) throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'user_id is required');
  };

  return serveGrpc(
    ctx,
    (server) =>
      server.addService('CartService', {
        AddItem: async (req) => {
          needUser(req.user_id);
          const item = req.item;
          if (!item?.product_id) throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'item.product_id is required');
          if (!Number.isInteger(item.quantity) || item.quantity < 1 || item.quantity > MAX_QUANTITY_PER_ITEM) {
            throw new GrpcError(grpc.status.INVALID_ARGUMENT, `invalid quantity ${item.quantity}`);
          }
          const key = cartKey(req.user_id);
          await storage(() =>
            redis.multi().hIncrBy(key, item.product_id, item.quantity).expire(key, CART_TTL_S).exec(),
          );
          return {};
        },
        GetCart: async (req) => {
          needUser(req.user_id);
          const fields = await storage(() => redis.hGetAll(cartKey(req.user_id)));
          const items: CartItem[] = Object.entries(fields).map(([product_id, q]) => ({
            product_id,
            quantity: Number(q),
          }));
          return { user_id: req.user_id, items };
        },
        EmptyCart: async (req) => {
          needUser(req.user_id);
          await storage(() => redis.del(cartKey(req.user_id)));
          return {};
        },
      }),
    {
      isServing: () => redis.isReady,
      onClose: async () => {
        if (redis.isOpen) await redis.close().catch(() => undefined);
        else redis.destroy();
      },
    },
  );
};
