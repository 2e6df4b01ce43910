import { describe, expect, it } from 'vitest';
import { validateAdmission } from './admission.ts';

describe('validateAdmission', () => {
  it('reads absent as open admission and keeps the join-token switch', () => {
    expect(validateAdmission(undefined)).toBeUndefined();
    expect(validateAdmission({ joinToken: true })).toEqual({ joinToken: true });
    expect(validateAdmission({ joinToken: false })).toEqual({ joinToken: false });
  });

  it('refuses anything else with INVALID_TASK naming the field', () => {
    expect(() => validateAdmission({ joinToken: 'yes' })).toThrow(/admission.joinToken/);
    expect(() => validateAdmission({ joinToken: true, secret: 'x' })).toThrow(/admission.secret/);
    expect(() => validateAdmission([])).toThrow(expect.objectContaining({ code: 'INVALID_TASK' }));
  });
});
