// The Marketplace Metering Service as the metering activity sees it: one call, batchUsageEvent
// (api-version 2018-08-31, at most 25 events), with a bearer token for the Marketplace API's
// application id. An answer that is not the API's (503, 429, a timeout, a refused connection)
// comes back as `unavailable`, so the caller can stop and leave the rest to the next firing.
import { workerFailure } from '../contract/errors.js';
import type { TokenCredential } from '@azure/core-auth';
import { ApplicationFailure } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import { httpCall } from '../lib/http.js';

export const METERING_API_VERSION = '2018-08-31';
export const MAX_BATCH_EVENTS = 25;
/** The Marketplace SaaS fulfillment and metering APIs' application id (their tokens' audience). */
export const MARKETPLACE_API_AUDIENCE = '20e940b3-4c77-4b0b-9a53-9e16a1b010a7';
export const PUBLIC_METERING_ENDPOINT = 'https://marketplaceapi.microsoft.com';

/** One usage event as the API takes it. */
export interface UsageEventRequest {
  resourceUri: string;
  quantity: number;
  dimension: string;
  effectiveStartTime: string;
  planId: string;
}

/** The API's answer for one event of a batch (the fields the worker reads). */
export interface UsageEventResult {
  status: string;
  usageEventId?: string;
  resourceUri?: string;
  dimension?: string;
  effectiveStartTime?: string;
  quantity?: number;
  error?: {
    code?: string;
    message?: string;
    additionalInfo?: { acceptedMessage?: { usageEventId?: string; quantity?: number } };
    details?: Array<{ message?: string }>;
  };
}

export type BatchAnswer = { kind: 'answered'; result: UsageEventResult[] } | { kind: 'unavailable'; reason: string };

export interface MeteringApi {
  batchUsageEvent(events: UsageEventRequest[]): Promise<BatchAnswer>;
}

export interface MeteringClientOptions {
  endpoint: string;
  credential: TokenCredential;
  /** Token audience (default the Marketplace API's application id). */
  audience?: string;
  /** CA to trust for the endpoint (the twin's); the system's roots otherwise. */
  ca?: string;
  timeoutMs?: number;
}

export function meteringClient(o: MeteringClientOptions): MeteringApi {
  const base = o.endpoint.replace(/\/+$/, '');
  return {
    async batchUsageEvent(events) {
      if (events.length === 0 || events.length > MAX_BATCH_EVENTS)
        throw new Error(`a usage batch holds 1 to ${MAX_BATCH_EVENTS} events (got ${events.length})`);
      const token = await o.credential.getToken(`${o.audience ?? MARKETPLACE_API_AUDIENCE}/.default`);
      if (!token) throw workerFailure('MeteringTokenUnavailable', 'no token for the Marketplace metering API');
      let res;
      try {
        res = await httpCall(`${base}/api/batchUsageEvent?api-version=${METERING_API_VERSION}`, {
          method: 'POST',
          body: JSON.stringify({ request: events }),
          headers: { authorization: `Bearer ${token.token}`, 'x-ms-requestid': randomUUID(), 'x-ms-correlationid': randomUUID() },
          ...(o.ca ? { ca: o.ca } : {}),
          timeoutInMs: o.timeoutMs ?? 20_000,
        });
      } catch (err) {
        return { kind: 'unavailable', reason: err instanceof Error ? err.message : String(err) };
      }
      if (res.status === 429 || res.status >= 500) return { kind: 'unavailable', reason: `HTTP ${res.status}` };
      if (res.status !== 200)
        // Our request or our credentials are wrong: no retry fixes that (the body names the field, never a secret).
        throw workerFailure('MeteringRequestRefused', `the metering API refused the batch: HTTP ${res.status} ${res.body.slice(0, 500)}`);
      const body = JSON.parse(res.body) as { result?: UsageEventResult[] };
      if (!Array.isArray(body.result) || body.result.length !== events.length)
        throw ApplicationFailure.retryable(`the metering API answered ${body.result?.length ?? 'no'} results for ${events.length} events`);
      return { kind: 'answered', result: body.result };
    },
  };
}
