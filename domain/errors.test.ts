import { describe, expect, it } from 'vitest';
import { describeValue, isValidationError, jsonPath, throwIfAny, ValidationError } from './errors.js';

describe('ValidationError', () => {
  it('takes code, message and target from a single detail', () => {
    const error = new ValidationError([
      { code: 'InvalidServerCount', message: 'serverCount must be 1, 3 or 5; got 4', target: 'properties.serverCount' },
    ]);
    expect(error.name).toBe('ValidationError');
    expect(error.code).toBe('InvalidServerCount');
    expect(error.target).toBe('properties.serverCount');
    expect(error.message).toBe('serverCount must be 1, 3 or 5; got 4');
    expect(error).toBeInstanceOf(Error);
  });

  it('uses InvalidRequestContent and a summary for several details', () => {
    const error = new ValidationError([
      { code: 'A', message: 'first', target: 'a' },
      { code: 'B', message: 'second', target: 'b' },
    ]);
    expect(error.code).toBe('InvalidRequestContent');
    expect(error.target).toBeUndefined();
    expect(error.message).toBe('The request content has 2 problems: first; second');
    expect(error.details).toHaveLength(2);
  });

  it('drops exact duplicate details, which then count as one problem', () => {
    const same = { code: 'InvalidCidr', message: 'bad', target: 'properties.network.cidr' };
    const error = new ValidationError([same, { ...same }]);
    expect(error.details).toEqual([same]);
    expect(error.code).toBe('InvalidCidr');
  });

  it('renders an ARM error body, with target only when there is one', () => {
    const single = new ValidationError([{ code: 'X', message: 'm', target: 't' }]).toArmErrorBody();
    expect(single).toEqual({ error: { code: 'X', message: 'm', target: 't', details: [{ code: 'X', message: 'm', target: 't' }] } });
    const many = new ValidationError([
      { code: 'X', message: 'm' },
      { code: 'Y', message: 'n' },
    ]).toArmErrorBody();
    expect(Object.keys(many.error)).toEqual(['code', 'message', 'details']);
  });

  it('is recognised by name', () => {
    expect(isValidationError(new ValidationError([{ code: 'X', message: 'm' }]))).toBe(true);
    expect(isValidationError(new Error('x'))).toBe(false);
    expect(isValidationError({ name: 'ValidationError' })).toBe(false);
  });

  it('throwIfAny throws only when there are details', () => {
    expect(() => throwIfAny([])).not.toThrow();
    expect(() => throwIfAny([{ code: 'X', message: 'm' }])).toThrow(ValidationError);
  });
});

describe('jsonPath', () => {
  it('joins identifiers with dots and brackets everything else', () => {
    expect(jsonPath(['properties', 'network', 'cidr'])).toBe('properties.network.cidr');
    expect(jsonPath(['properties', 'maintenanceWindow', 'days', 2])).toBe('properties.maintenanceWindow.days[2]');
    expect(jsonPath(['tags', 'cost center'])).toBe("tags['cost center']");
    expect(jsonPath(['tags', "it's"])).toBe("tags['it\\'s']");
    expect(jsonPath([])).toBe('');
  });
});

describe('describeValue', () => {
  it('shows scalars and summarises structures', () => {
    expect(describeValue(4)).toBe('4');
    expect(describeValue('abc')).toBe('"abc"');
    expect(describeValue(undefined)).toBe('nothing');
    expect(describeValue(null)).toBe('null');
    expect(describeValue([])).toBe('an empty list');
    expect(describeValue([1, 2])).toBe('a list of 2');
    expect(describeValue({ a: 1 })).toBe('an object');
    expect(describeValue('x'.repeat(100))).toBe(JSON.stringify(`${'x'.repeat(61)}...`));
  });
});
