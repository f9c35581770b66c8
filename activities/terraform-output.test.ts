// Reading terraform's machine-readable UI: lines split across chunks, diagnostics shown as the
// human UI's text (which the adoption of orphaned resources parses), the apply's outputs, and
// the fall back to `terraform output` when a value is withheld. The driver's real runs are in
// terraform.test.ts.
import { expect, it } from 'vitest';
import { alreadyExisting, appliedOutputs, lineSplitter, parseUiLine, uiText } from './terraform-output.js';

it('splits a stream into whole lines whatever the chunks', () => {
  const s = lineSplitter();
  expect(s.push('{"a":1}\n{"b"')).toEqual(['{"a":1}']);
  expect(s.push(':2}\n')).toEqual(['{"b":2}']);
  expect(s.push('{"c":3}')).toEqual([]);
  expect(s.end()).toEqual(['{"c":3}']);
  expect(s.end()).toEqual([]);
});

it('shows messages as the human UI prints them; a diagnostic keeps the parts the failure handling reads', () => {
  expect(uiText(parseUiLine('{"@message":"Apply complete! Resources: 3 added, 0 changed, 0 destroyed.","type":"change_summary"}'))).toBe(
    'Apply complete! Resources: 3 added, 0 changed, 0 destroyed.',
  );
  expect(uiText(parseUiLine('panic: not json'))).toBe('panic: not json');
  const id = '/subscriptions/0000/resourceGroups/hcs-abc';
  const diagnostic = parseUiLine(
    JSON.stringify({
      '@level': 'error',
      '@message': 'Error: Resource already exists',
      type: 'diagnostic',
      diagnostic: {
        severity: 'error',
        summary: 'Resource already exists',
        detail: `A resource with the ID "${id}" already exists - to be managed via Terraform this resource needs to be imported into the State.`,
        address: 'module.cluster.azapi_resource.group',
      },
    }),
  );
  const text = uiText(diagnostic);
  expect(text.split('\n')[0]).toBe('Error: Resource already exists');
  expect(alreadyExisting(text)).toEqual([{ address: 'module.cluster.azapi_resource.group', id }]);
  expect(uiText({ type: 'diagnostic', diagnostic: { severity: 'warning', summary: 'Deprecated' } })).toBe('Warning: Deprecated');
});

it("takes the apply's last outputs message, and none when a value is withheld", () => {
  const planned = { type: 'outputs', outputs: { zones: { sensitive: false, action: 'create' } } };
  const applied = {
    type: 'outputs',
    outputs: { zones: { sensitive: false, type: ['list', 'number'], value: [1, 2, 3] }, ip: { value: null } },
  };
  expect(appliedOutputs([planned, { type: 'apply_complete' }, applied])).toEqual({ zones: [1, 2, 3], ip: null });
  // Sensitive values are left out of the UI: `terraform output` reads them instead.
  expect(appliedOutputs([{ type: 'outputs', outputs: { token: { sensitive: true } } }])).toBeUndefined();
  expect(appliedOutputs([planned])).toBeUndefined();
  expect(appliedOutputs([{ type: 'change_summary' }])).toBeUndefined();
});
