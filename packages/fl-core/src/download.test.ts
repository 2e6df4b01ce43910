import { describe, expect, it } from 'vitest';
import { NO_COMPRESSION, validateCompression } from './compression.ts';
import { DENSE_DOWNLOAD, downloadOf, validateDownload } from './download.ts';
import { codeOf, digitsTask } from './task/digits-fixture.ts';
import { validateTaskSpec } from './task.ts';

const task = digitsTask;

describe('download settings', () => {
  it('default to dense, leaving a task without the block byte for byte as before', () => {
    expect(validateDownload(undefined)).toEqual(DENSE_DOWNLOAD);
    expect(validateCompression({ download: { kind: 'dense' } })).toEqual(NO_COMPRESSION);
    const spec = validateTaskSpec(task({}));
    expect(JSON.stringify(spec.compression)).toBe(JSON.stringify(NO_COMPRESSION));
    expect(downloadOf(spec.compression)).toEqual(DENSE_DOWNLOAD);
  });

  it('fill in delta defaults and read a validated block back unchanged', () => {
    const compression = validateCompression({ download: { kind: 'delta' } });
    expect(compression.download).toEqual({ kind: 'delta', bits: 8, fraction: 1, keep: 8 });
    expect(validateCompression(compression)).toEqual(compression);
    const spec = validateTaskSpec(
      task({
        compression: {
          kind: 'topk',
          fraction: 0.1,
          download: { kind: 'delta', bits: 4, fraction: 0.1, keep: 3 },
        },
      }),
    );
    expect(downloadOf(spec.compression)).toEqual({ kind: 'delta', bits: 4, fraction: 0.1, keep: 3 });
    expect(validateTaskSpec(JSON.parse(JSON.stringify(spec))).compression).toEqual(spec.compression);
  });

  it('refuse bad fields with INVALID_TASK naming them', () => {
    for (const [block, field] of [
      ['delta', 'compression.download'],
      [{ kind: 'zip' }, 'compression.download.kind'],
      [{ kind: 'delta', bits: 2 }, 'compression.download.bits'],
      [{ kind: 'delta', fraction: 0 }, 'compression.download.fraction'],
      [{ kind: 'delta', fraction: 1.5 }, 'compression.download.fraction'],
      [{ kind: 'delta', keep: 0 }, 'compression.download.keep'],
      [{ kind: 'delta', keep: 65 }, 'compression.download.keep'],
      [{ kind: 'delta', keep: 2.5 }, 'compression.download.keep'],
      [{ kind: 'delta', level: 3 }, 'compression.download.level'],
      [{ kind: 'dense', bits: 8 }, 'compression.download'],
    ] as const) {
      const got = codeOf(() => validateCompression({ download: block }));
      expect(got.startsWith('INVALID_TASK'), `${JSON.stringify(block)}: ${got}`).toBe(true);
      expect(got).toContain(`"${field}`);
    }
  });

  it('refuse delta downloads in buffered rounds, saying why', () => {
    const got = codeOf(() =>
      validateTaskSpec(
        task({
          rounds: { cohortSize: 10, minReports: 5, deadlineMs: 60_000, mode: 'buffered' },
          compression: { download: { kind: 'delta' } },
        }),
      ),
    );
    expect(got).toMatch(
      /^INVALID_TASK: "compression.download.kind" "delta" is not wired into buffered rounds/,
    );
  });
});
