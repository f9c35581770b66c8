// HCS_METERING is checked at start-up: bad JSON, unknown or malformed fields and a client secret
// without its tenant and client id stop the worker with a message naming each; defaults fill in
// the public endpoint, the Marketplace API's audience and an hourly schedule.
import { expect, it } from 'vitest';
import { parseMeteringConfig } from './metering-config.js';

it('fills in the public endpoint, the audience and an hourly schedule', () => {
  expect(parseMeteringConfig('{}')).toEqual({
    endpoint: 'https://marketplaceapi.microsoft.com',
    audience: '20e940b3-4c77-4b0b-9a53-9e16a1b010a7',
    intervalSeconds: 3600,
    concurrency: 4,
  });
});

it('refuses bad settings, naming each', () => {
  expect(() => parseMeteringConfig('{')).toThrow('invalid HCS_METERING: is not valid JSON');
  expect(() => parseMeteringConfig('{"endpoint":"nowhere","concurrency":0}')).toThrow(/endpoint: .*; concurrency: /);
  expect(() => parseMeteringConfig('{"clientSecret":"x"}')).toThrow(/invalid HCS_METERING: .*clientSecret/);
  expect(() => parseMeteringConfig('{"clientSecretFile":"/run/secret"}')).toThrow(
    'invalid HCS_METERING: clientSecretFile needs tenantId and clientId',
  );
});
