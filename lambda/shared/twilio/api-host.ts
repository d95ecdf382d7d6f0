/**
 * Twilio's REST API host for a processing region: `https://api.{edge}.{region}.twilio.com`
 * (e.g. `ie1` through `dublin` → https://api.dublin.ie1.twilio.com). Twilio retired the
 * `api.{region}.twilio.com` form in April 2026 (only api.us1 stays), so a region always goes
 * with an edge: the one named, or the region's own. Credentials are per region too: an IE1
 * account's auth token is not its US1 token.
 */

/** Each region and the edge Twilio pairs it with. */
export const TWILIO_REGION_EDGES = {
  us1: 'ashburn',
  us2: 'umatilla',
  ie1: 'dublin',
  de1: 'frankfurt',
  au1: 'sydney',
  jp1: 'tokyo',
  jp2: 'osaka',
  sg1: 'singapore',
  br1: 'sao-paulo',
} as const;

export type TwilioRegion = keyof typeof TWILIO_REGION_EDGES;
export const TWILIO_REGIONS = Object.keys(TWILIO_REGION_EDGES) as TwilioRegion[];
export const TWILIO_EDGES = [...new Set(Object.values(TWILIO_REGION_EDGES))] as string[];

export function isTwilioRegion(value: string): value is TwilioRegion {
  return Object.hasOwn(TWILIO_REGION_EDGES, value);
}

/** The API base URL of `region` through `edge` (default: the region's own edge). */
export function twilioApiBaseUrlFor(region: TwilioRegion, edge?: string): string {
  const via = edge ?? TWILIO_REGION_EDGES[region];
  if (!TWILIO_EDGES.includes(via)) throw new Error(`Unknown Twilio edge: ${via.slice(0, 32)}`);
  return `https://api.${via}.${region}.twilio.com`;
}
