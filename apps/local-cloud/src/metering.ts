// The Marketplace Metering Service (marketplaceapi.microsoft.com, api-version 2018-08-31) as the
// twin serves it: usage events per resource, dimension and hour of effectiveStartTime, each
// accepted once (a second one for the same hour is a Duplicate naming the accepted one), none
// older than 24 hours or in the future, at most 25 in a batch. Its clock can be moved by tests
// (metering-routes.ts), so the 24-hour rule can be exercised without waiting; accepted events
// are kept in `metering.json` in the twin's data folder and survive a restart.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export const METERING_API_VERSION = '2018-08-31';
/** Most events one batchUsageEvent call may carry. */
export const MAX_BATCH_EVENTS = 25;
const HOUR_MS = 3_600_000;
const WINDOW_MS = 24 * HOUR_MS;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DIMENSION = /^[A-Za-z0-9_-]{1,50}$/;
const EVENT_FIELDS = new Set(['resourceId', 'resourceUri', 'quantity', 'dimension', 'effectiveStartTime', 'planId']);

/** The event as the caller sent it, once checked. */
export interface UsageEvent {
  resourceId?: string;
  resourceUri?: string;
  quantity: number;
  dimension: string;
  effectiveStartTime: string;
  planId: string;
}

/** What the service answers for an accepted event (and returns inside a Duplicate). */
export interface AcceptedMessage extends UsageEvent {
  usageEventId: string;
  status: 'Accepted';
  messageTime: string;
}

/** One problem with an event, in the API's error detail shape. */
export interface ErrorDetail {
  code: string;
  message: string;
  target: string;
}

export type EventOutcome =
  | { kind: 'accepted'; message: AcceptedMessage }
  | { kind: 'duplicate'; accepted: AcceptedMessage }
  | { kind: 'expired'; event: UsageEvent; detail: ErrorDetail }
  | { kind: 'invalid'; details: ErrorDetail[]; event: Record<string, unknown> };

/** The twin's clock: real time shifted by an offset tests set. */
export class MeteringClock {
  #offsetMs = 0;
  now(): number {
    return Date.now() + this.#offsetMs;
  }
  /** From now on, the clock reads `atMs` and runs on from there. */
  set(atMs: number): void {
    this.#offsetMs = atMs - Date.now();
  }
}

export class MeteringService {
  readonly clock = new MeteringClock();
  readonly #accepted = new Map<string, AcceptedMessage>();
  #unavailableUntil = 0;
  #answeredUnavailable = 0;

  constructor(private readonly file?: string) {
    if (file && existsSync(file)) {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { accepted: AcceptedMessage[] };
      for (const m of saved.accepted) this.#accepted.set(eventKey(m), m);
    }
  }

  /** Accepted events in the order they were accepted. */
  accepted(): AcceptedMessage[] {
    return [...this.#accepted.values()];
  }

  /** Makes the API answer 503 until the (twin's) clock has moved on `seconds`; 0 ends an outage. */
  setUnavailable(seconds: number): void {
    this.#unavailableUntil = seconds > 0 ? this.clock.now() + seconds * 1000 : 0;
    if (seconds > 0) this.#answeredUnavailable = 0;
  }

  /** True (and counted) while an outage lasts. */
  refuse(): boolean {
    if (this.clock.now() >= this.#unavailableUntil) return false;
    this.#answeredUnavailable++;
    return true;
  }

  status(): { now: string; unavailableUntil?: string; answeredUnavailable: number; accepted: number } {
    const now = this.clock.now();
    return {
      now: new Date(now).toISOString(),
      ...(this.#unavailableUntil > now ? { unavailableUntil: new Date(this.#unavailableUntil).toISOString() } : {}),
      answeredUnavailable: this.#answeredUnavailable,
      accepted: this.#accepted.size,
    };
  }

  /** Checks one event and accepts it unless it is invalid, expired or a duplicate. */
  submit(raw: unknown): EventOutcome {
    const { event, details } = checkEvent(raw);
    if (!event) return { kind: 'invalid', details, event: isObject(raw) ? raw : {} };
    const now = this.clock.now();
    const start = parseUtc(event.effectiveStartTime);
    if (start > now)
      return {
        kind: 'invalid',
        details: [detail('BadArgument', 'The effectiveStartTime must not be in the future.', 'EffectiveStartTime')],
        event: { ...event },
      };
    const existing = this.#accepted.get(eventKey(event));
    if (existing) return { kind: 'duplicate', accepted: existing };
    if (now - start > WINDOW_MS)
      return {
        kind: 'expired',
        event,
        detail: detail(
          'BadArgument',
          'The usage event is more than 24 hours old; usage can be reported for the past 24 hours only.',
          'EffectiveStartTime',
        ),
      };
    const message: AcceptedMessage = { usageEventId: randomUUID(), status: 'Accepted', messageTime: new Date(now).toISOString(), ...event };
    this.#accepted.set(eventKey(event), message);
    this.#save();
    return { kind: 'accepted', message };
  }

  #save(): void {
    if (this.file) writeFileSync(this.file, JSON.stringify({ accepted: this.accepted() }), { mode: 0o600 });
  }
}

/** One usage event per resource, dimension and hour (UTC) of its effectiveStartTime. */
function eventKey(e: UsageEvent): string {
  const resource = (e.resourceUri ?? e.resourceId ?? '').toLowerCase();
  const hour = Math.floor(parseUtc(e.effectiveStartTime) / HOUR_MS);
  return `${resource}|${e.dimension.toLowerCase()}|${hour}`;
}

const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/i;

/** A date and time; one without an offset is UTC (as the service reads it). */
function parseUtc(s: string): number {
  return Date.parse(/(Z|[+-]\d{2}:\d{2})$/i.test(s) ? s : `${s}Z`);
}

const detail = (code: string, message: string, target: string): ErrorDetail => ({ code, message, target });

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The event's fields checked one by one; every problem is named (field as the service names it). */
export function checkEvent(raw: unknown): { event?: UsageEvent; details: ErrorDetail[] } {
  if (!isObject(raw)) return { details: [detail('BadArgument', 'The usage event must be a JSON object.', 'usageEventRequest')] };
  const details: ErrorDetail[] = [];
  for (const k of Object.keys(raw))
    if (!EVENT_FIELDS.has(k)) details.push(detail('BadArgument', `The field '${k}' is not part of a usage event.`, k));
  const { resourceId, resourceUri, quantity, dimension, effectiveStartTime, planId } = raw;
  if (resourceId === undefined && resourceUri === undefined)
    details.push(detail('BadArgument', 'The resourceId (or resourceUri) is required.', 'ResourceId'));
  if (resourceId !== undefined && resourceUri !== undefined)
    details.push(detail('BadArgument', 'Give either resourceId or resourceUri, not both.', 'ResourceId'));
  if (resourceId !== undefined && (typeof resourceId !== 'string' || !GUID.test(resourceId)))
    details.push(detail('BadArgument', 'The resourceId must be a GUID (a SaaS subscription id).', 'ResourceId'));
  if (
    resourceUri !== undefined &&
    (typeof resourceUri !== 'string' || !/^\/subscriptions\/[^/]+\/.+/i.test(resourceUri) || resourceUri.length > 1024)
  )
    details.push(detail('BadArgument', 'The resourceUri must be an Azure resource id (/subscriptions/...).', 'ResourceUri'));
  if (typeof quantity !== 'number' || !Number.isFinite(quantity) || quantity <= 0 || quantity > 1e9)
    details.push(detail('InvalidQuantity', 'The quantity must be a number above 0.', 'Quantity'));
  if (typeof dimension !== 'string' || !DIMENSION.test(dimension))
    details.push(detail('InvalidDimension', 'The dimension must be 1 to 50 letters, digits, - or _.', 'Dimension'));
  if (typeof planId !== 'string' || planId.length === 0 || planId.length > 50)
    details.push(detail('BadArgument', 'The planId is required (1 to 50 characters).', 'PlanId'));
  if (typeof effectiveStartTime !== 'string' || !TIME.test(effectiveStartTime) || Number.isNaN(parseUtc(effectiveStartTime)))
    details.push(detail('BadArgument', 'The effectiveStartTime must be a date and time (ISO 8601, UTC).', 'EffectiveStartTime'));
  if (details.length) return { details };
  const event: UsageEvent = {
    ...(resourceId !== undefined ? { resourceId: resourceId as string } : { resourceUri: resourceUri as string }),
    quantity: quantity as number,
    dimension: dimension as string,
    effectiveStartTime: effectiveStartTime as string,
    planId: planId as string,
  };
  return { event, details };
}
