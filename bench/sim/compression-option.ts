import {
  type CompressionSettings,
  checkCompressionCompatibility,
  PollenError,
  type PrivacySettings,
  type StrategyConfig,
  validateCompression,
} from '@pollen/fl-core';
import { BenchError } from '../lib/errors.ts';

/**
 * `--compression`: `f32` or `f16` (dense uploads of that codec), `KIND:FRACTION[:BITS]` with
 * KIND topk, randomk or shared (say `topk:0.01:8`), or a task's JSON `compression` block.
 * Checked by fl-core as a task would be, so what the coordinator would refuse is refused here.
 */
export function parseCompression(
  text: string,
  strategy: StrategyConfig,
  privacy: PrivacySettings,
): { codec: 'f32' | 'f16'; compression: CompressionSettings } {
  if (text === 'f32' || text === 'f16') return { codec: text, compression: validateCompression(undefined) };
  let block: unknown;
  if (text.trim().startsWith('{')) {
    try {
      block = JSON.parse(text);
    } catch (err) {
      throw new BenchError('INVALID_OPTION', `"--compression" is not valid JSON: ${(err as Error).message}`);
    }
  } else {
    const [kind, fraction, bits] = text.split(':');
    block = { kind, fraction: Number(fraction), ...(bits === undefined ? {} : { bits: Number(bits) }) };
  }
  try {
    const compression = validateCompression(block);
    checkCompressionCompatibility(compression, strategy, privacy);
    return { codec: 'f32', compression };
  } catch (err) {
    if (err instanceof PollenError) throw new BenchError('INVALID_OPTION', `"--compression": ${err.message}`);
    throw err;
  }
}
