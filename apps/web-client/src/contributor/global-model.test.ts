import { describe, expect, it } from 'vitest';
import { checkGlobalModel, GlobalModelError } from './global-model.ts';

const code = (f: () => unknown): string => {
  try {
    f();
    return 'ok';
  } catch (err) {
    return err instanceof GlobalModelError ? err.code : String(err);
  }
};

describe('the global model a page tries', () => {
  it('takes a version number and exactly the float32 weights of the task model', () => {
    expect(checkGlobalModel('0', 40, 10)).toBe(0);
    expect(checkGlobalModel('4294967295', 4, 1)).toBe(0xffffffff);
  });

  it('refuses a missing or malformed version and weights of another size, by code', () => {
    expect(code(() => checkGlobalModel(null, 40, 10))).toBe('BAD_VERSION');
    expect(code(() => checkGlobalModel('-1', 40, 10))).toBe('BAD_VERSION');
    expect(code(() => checkGlobalModel('1.5', 40, 10))).toBe('BAD_VERSION');
    expect(code(() => checkGlobalModel('4294967296', 40, 10))).toBe('BAD_VERSION');
    expect(code(() => checkGlobalModel('3', 36, 10))).toBe('BAD_WEIGHTS');
    expect(code(() => checkGlobalModel('3', 41, 10))).toBe('BAD_WEIGHTS');
  });
});
