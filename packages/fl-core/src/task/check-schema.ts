import type { TSchema } from '@sinclair/typebox';
import { type ValueError, ValueErrorType } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { PollenError, type PollenErrorCode } from '../errors.ts';

/** `/input/shape/0` -> `input.shape[0]`, the way fields are named in Pollen's messages. */
export function fieldName(path: string, prefix = ''): string {
  let out = prefix;
  for (const part of path.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(key) ? `[${key}]` : out === '' ? key : `.${key}`;
  }
  return out === '' ? 'task' : out;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (Array.isArray(value)) return `array of ${value.length}`;
  return typeof value;
}

function valueAt(root: unknown, path: string): unknown {
  let at = root;
  for (const part of path.split('/').slice(1)) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return at;
}

type Props = Record<string, { const?: unknown }>;

/**
 * Variants of a union that fit the value's discriminators (`kind`, `name`, `builtin`: a
 * property some variant pins to a constant). Returns the key that matched no variant when the
 * value names one no variant has.
 */
function fitting(variants: readonly TSchema[], value: unknown): { fit: TSchema[]; badKey?: string } {
  const obj = value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  const keys = new Set<string>();
  for (const v of variants) {
    for (const [k, p] of Object.entries((v.properties ?? {}) as Props))
      if (p.const !== undefined) keys.add(k);
  }
  const fit = variants.filter((v) => {
    const props = (v.properties ?? {}) as Props;
    return [...keys].every((k) => (props[k]?.const === undefined ? !(k in obj) : props[k]!.const === obj[k]));
  });
  const badKey = fit.length === 0 ? [...keys].find((k) => k in obj) : undefined;
  return badKey === undefined ? { fit } : { fit, badKey };
}

/**
 * The most telling error of a value against a schema. A union reports only "expected union
 * value"; this narrows to the variant the value's discriminator names, so
 * `{ kind: 'class', numClasses: 1 }` is refused for `numClasses`, not for the whole target.
 */
function bestError(schema: TSchema, value: unknown, base: string): ValueError | undefined {
  const first = Value.Errors(schema, value).First();
  if (!first || first.type !== ValueErrorType.Union) return first && { ...first, path: base + first.path };
  const variants = (first.schema as { anyOf?: TSchema[] }).anyOf ?? [];
  const at = first.path;
  const sub = valueAt(value, at);
  const { fit, badKey } = fitting(variants, sub);
  if (badKey !== undefined) {
    const allowed = variants
      .map((v) => ((v.properties ?? {}) as Props)[badKey]?.const)
      .filter((c) => c !== undefined);
    return {
      ...first,
      path: `${base}${at}/${badKey}`,
      value: (sub as Record<string, unknown>)[badKey],
      schema: { anyOf: allowed.map((c) => ({ const: c })) } as unknown as TSchema,
    };
  }
  if (fit.length !== 1) return { ...first, path: base + at };
  return bestError(fit[0]!, sub, base + at);
}

function expectedOf(error: ValueError): string {
  const s = error.schema as Record<string, unknown>;
  if (error.type === ValueErrorType.ObjectAdditionalProperties) return 'no such field';
  if (error.type === ValueErrorType.ObjectRequiredProperty) return 'a value (required)';
  if (Array.isArray(s.anyOf)) {
    const options = (s.anyOf as Record<string, unknown>[]).map((v) => {
      if (v.const !== undefined) return String(v.const);
      const pinned = Object.entries((v.properties ?? {}) as Props).find(([, p]) => p.const !== undefined);
      return pinned ? `{ ${pinned[0]}: ${JSON.stringify(pinned[1].const)}, ... }` : 'an object';
    });
    return `one of ${options.join(', ')}`;
  }
  if (s.const !== undefined) return JSON.stringify(s.const);
  const range =
    s.minimum !== undefined || s.maximum !== undefined
      ? ` in [${s.minimum ?? '-inf'}, ${s.maximum ?? 'inf'}]`
      : '';
  if (s.type === 'integer') return `integer${range}`;
  if (s.type === 'number') return `finite number${range}`;
  if (s.type === 'array') return `array of ${s.minItems ?? 0}..${s.maxItems ?? 'any'} items`;
  if (s.type === 'string') {
    return s.pattern
      ? `string matching ${s.pattern}`
      : `string of at most ${s.maxLength ?? 'any'} characters`;
  }
  return error.message.replace(/^Expected /, '').toLowerCase();
}

/**
 * Check a value against a TypeBox schema; on failure throw `code` naming the first bad field:
 * `"input.shape[0]" expected integer in [1, 65536], got 0`.
 */
export function checkSchema(
  schema: TSchema,
  value: unknown,
  code: PollenErrorCode = 'INVALID_TASK',
  prefix = '',
): void {
  if (Value.Check(schema, value)) return;
  const error = bestError(schema, value, '');
  if (!error) return;
  const field = fieldName(error.path, prefix);
  throw new PollenError(code, `"${field}" expected ${expectedOf(error)}, got ${describe(error.value)}`);
}
