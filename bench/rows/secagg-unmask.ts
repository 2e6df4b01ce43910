import {
  addMask,
  chachaRandomBytes,
  nobleSecAggCrypto,
  SecAggClient,
  type SecAggCrypto,
  SecAggServer,
  secAggParams,
  seededRng,
  shuffle,
} from '@pollen/fl-core';
import { nativeSecAggCrypto } from '@pollen/secagg-node';
import { median, sig } from '../lib/stats.ts';
import type { BenchContext, BenchRow, Suite } from './types.ts';

function seedBytes(run: number, id: number): Uint8Array {
  const seed = new Uint8Array(32);
  new DataView(seed.buffer).setUint32(0, run, true);
  new DataView(seed.buffer).setUint32(4, id, true);
  return seed;
}

interface UnmaskTiming {
  /** Receiving every survivor's shares and finish(): what the server does to unmask. */
  readonly unmaskMs: number;
  /** The mask expansions finish() must do (self masks of U3, pairwise masks of U3 with drop-outs). */
  readonly expansions: number;
  /** The same number of d-word mask expansions with the same PRG, alone. */
  readonly expansionMs: number;
  readonly k: number;
  readonly threshold: number;
}

/**
 * One SecAgg+ round up to the server's unmasking, at the server's real size: its masked sum has
 * d words and it removes d-word masks. The clients run the real protocol for keys and shares
 * (their secrets and shares do not depend on d), on params with d = 1 to keep them cheap; the
 * server is handed random d-word masked inputs, which it cannot tell from real ones (its
 * exactness is tested in packages/secagg-node and the coordinator's SecAgg tests).
 */
function unmaskRound(n: number, d: number, drop: number, run: number, server: SecAggCrypto): UnmaskTiming {
  const seed = seedBytes(run, 0xffff);
  const params = secAggParams({ n, d, seed });
  const small = secAggParams({ n, d: 1, seed, k: params.k, threshold: params.threshold });
  const dropped = new Set(shuffle([...Array(n).keys()], seededRng(run + 7)).slice(0, Math.round(drop * n)));
  const clients = Array.from(
    { length: n },
    (_, id) => new SecAggClient(small, id, chachaRandomBytes(seedBytes(run, id)), nativeSecAggCrypto),
  );
  const srv = new SecAggServer(params, server);
  for (const c of clients) srv.receiveAdvertise(c.id, c.advertise());
  for (const [id, msg] of srv.closeAdvertise()) srv.receiveShares(id, clients[id]!.shareKeys(msg));
  const rng = seededRng(run + 13);
  const masked = Uint32Array.from({ length: d }, () => (rng() * 2 ** 32) >>> 0);
  let partners = 0;
  for (const [id, msg] of srv.closeShares()) {
    if (dropped.has(id)) continue;
    clients[id]!.maskInput(msg, new Uint32Array(1));
    srv.receiveMaskedInput(id, { masked });
  }
  const requests = srv.closeMaskedInput();
  const responses = [...requests].map(([id, request]) => {
    partners += request.dropped.length;
    return [id, clients[id]!.unmask(request)] as const;
  });
  const start = performance.now();
  for (const [id, response] of responses) srv.receiveUnmask(id, response);
  srv.finish();
  const unmaskMs = performance.now() - start;
  // Each pairwise mask of a survivor with a drop-out is named once, in the survivor's request.
  const expansions = requests.size + partners;
  const target = new Uint32Array(d);
  const t0 = performance.now();
  for (let i = 0; i < expansions; i++) addMask(target, seedBytes(run, i), i % 2 ? 1 : -1, server);
  return {
    unmaskMs,
    expansions,
    expansionMs: performance.now() - t0,
    k: params.k,
    threshold: params.threshold,
  };
}

/**
 * The coordinator's SecAgg+ unmasking on Node's native crypto, at d = 100k, n in {100, 500,
 * 1000}, 0% and 30% drop-outs after sharing keys: receiving the survivors' shares, rebuilding
 * the secrets, removing the self masks and the pairwise masks shared with drop-outs, against
 * the mask expansions it must do, timed alone with the same PRG in the same run (goal within
 * 2x). At n = 100 the pure-JavaScript (@noble) server is timed too, for the speed-up.
 */
export const secAggUnmaskSuite: Suite = {
  id: 'secagg-unmask',
  title: 'SecAgg+ server unmasking on native crypto',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const d = ctx.tiny ? 1000 : 100_000;
    const sizes = ctx.tiny ? [10] : [100, 500, 1000];
    const rows: BenchRow[] = [];
    for (const n of sizes) {
      for (const drop of [0, 0.3]) {
        const timings: UnmaskTiming[] = [];
        const noble: number[] = [];
        for (let run = 1; run <= ctx.runs; run++) {
          ctx.log(`secagg-unmask: n = ${n}, ${drop * 100}% drop-outs, run ${run}/${ctx.runs}`);
          timings.push(unmaskRound(n, d, drop, run, nativeSecAggCrypto));
          if (!ctx.tiny && n <= 100) noble.push(unmaskRound(n, d, drop, run, nobleSecAggCrypto).unmaskMs);
        }
        const first = timings[0]!;
        const value = median(timings.map((t) => t.unmaskMs));
        rows.push({
          suite: 'secagg-unmask',
          name: `server unmasking, native crypto, n = ${n}, d = ${d.toLocaleString('en')}, ${drop * 100}% drop-outs (k = ${first.k}, t = ${first.threshold})`,
          value: sig(value),
          unit: 'ms',
          baseline: {
            name: `its ${first.expansions} mask expansions alone, same PRG`,
            value: sig(median(timings.map((t) => t.expansionMs))),
            unit: 'ms',
          },
          ratio: sig(median(timings.map((t) => t.unmaskMs / t.expansionMs))),
          ratioMeaning: 'x the baseline time (goal <= 2)',
          runs: timings.length,
          extra: {
            expansions: first.expansions,
            nobleServerMs: noble.length ? sig(median(noble)) : null,
            nativeSpeedup: noble.length ? sig(median(noble) / value) : null,
          },
          note: 'shares in + finish(); the ratio is the median of per-run ratios',
        });
      }
    }
    return rows;
  },
};
