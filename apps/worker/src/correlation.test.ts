import { defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { CORRELATION_HEADER } from '../../../contract/temporal.js';
import { correlationIdFromHeaders } from './correlation.js';

describe('correlationIdFromHeaders', () => {
  it('reads the id a workflow put in the header', () => {
    expect(correlationIdFromHeaders({ [CORRELATION_HEADER]: defaultPayloadConverter.toPayload('corr-1') })).toBe('corr-1');
  });
  it('has none when the header is missing, not a string, or not a payload it can read', () => {
    expect(correlationIdFromHeaders({})).toBeUndefined();
    expect(correlationIdFromHeaders({ [CORRELATION_HEADER]: defaultPayloadConverter.toPayload(42) })).toBeUndefined();
    expect(
      correlationIdFromHeaders({ [CORRELATION_HEADER]: { metadata: { encoding: new TextEncoder().encode('binary/unknown') } } }),
    ).toBeUndefined();
  });
});
