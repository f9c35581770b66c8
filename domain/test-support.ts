// Test helper: runs a validation and returns the ValidationError it throws, so tests can
// assert exact codes and targets. Fails loudly when nothing (or something else) is thrown.
import { type ErrorDetail, ValidationError } from './errors.js';

export function validationErrorFrom(run: () => unknown): ValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError, but the call succeeded');
}

/** `code@target` for each detail: compact to assert with toEqual. */
export function codesAndTargets(error: ValidationError): string[] {
  return error.details.map((d: ErrorDetail) => `${d.code}@${d.target ?? ''}`);
}
