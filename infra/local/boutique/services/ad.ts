import { randomInt } from 'node:crypto';
import { serveGrpc, type ServiceMain } from '../service';
import type { Ad } from '../types';

/** Upstream AdService.java's ads by category. */
export const ADS_BY_CATEGORY: Record<string, Ad[]> = {
  clothing: [{ redirect_url: '/product/66VCHSJNUP', text: 'Tank top for sale. 20% off.' }],
  accessories: [{ redirect_url: '/product/1YMWWN1N4O', text: 'Watch for sale. Buy one, get second kit for free' }],
  footwear: [{ redirect_url: '/product/L9ECAV7KIM', text: 'Loafers for sale. Buy one, get second one for free' }],
  hair: [{ redirect_url: '/product/2ZYFJ3GM2N', text: 'Hairdryer for sale. 50% off.' }],
  decor: [{ redirect_url: '/product/0PUK6V6EV0', text: 'Candle holder for sale. 30% off.' }],
  kitchen: [
    { redirect_url: '/product/9SIQT8TOJO', text: 'Bamboo glass jar for sale. 10% off.' },
    { redirect_url: '/product/6E92ZMYYFZ', text: 'Mug for sale. Buy two, get third one for free' },
  ],
};
const ALL_ADS = Object.values(ADS_BY_CATEGORY).flat();
const MAX_ADS_TO_SERVE = 2;

/** Ads for the context keys; with no match, random ads (as upstream). */
export function adsFor(contextKeys: string[]): Ad[] {
  const matched = contextKeys.flatMap((k) => ADS_BY_CATEGORY[k.toLowerCase()] ?? []);
  if (matched.length > 0) return matched;
  return Array.from({ length: MAX_ADS_TO_SERVE }, () => ALL_ADS[randomInt(ALL_ADS.length)]).filter(
    (a): a is Ad => a !== undefined,
  );
}

export const run: ServiceMain = (ctx) =>
  serveGrpc(ctx, (server) =>
    server.addService('AdService', {
      GetAds: (req) => ({ ads: adsFor(req.context_keys) }),
    }),
  );
