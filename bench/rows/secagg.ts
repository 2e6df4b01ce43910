import { encodeFixedPoint, sfc32 } from '@pollen/compression';
import {
  chachaRandomBytes,
  defaultSecAggNeighbours,
  gaussian,
  PollenError,
  SecAggClient,
  SecAggServer,
  secAggParams,
  seededRng,
  shuffle,
} from '@pollen/fl-core';
import { median, sig } from '../lib/stats.ts';
import type { BenchContext, BenchRow, Suite } from './types.ts';

/** 16-bit fixed point on [-1, 1]: 500 summands still fit in 32 bits (16 + log2 500 < 32). */
const FIXED = { range: 1, bits: 16 } as const;

interface RoundTiming {
  /** Per client: everything the client does for secure aggregation, encoding included. */
  readonly clientMs: number[];
  /** Per client: fixed-point encoding alone (the unmasked quantized update). */
  readonly plainClientMs: number[];
  /** Per client: maskInput alone (PRG expansion of its masks). */
  readonly maskMs: number[];
  /** The server's whole round: every receive, close and finish. */
  readonly serverMs: number;
  /** The server summing the same survivors' unmasked vectors. */
  readonly plainServerMs: number;
  readonly survivors: number;
  readonly k: number;
  readonly threshold: number;
}

function seedBytes(run: number, id: number): Uint8Array {
  const seed = new Uint8Array(32);
  new DataView(seed.buffer).setUint32(0, run, true);
  new DataView(seed.buffer).setUint32(4, id, true);
  return seed;
}

function time<T>(add: (ms: number) => void, fn: () => T): T {
  const start = performance.now();
  const out = fn();
  add(performance.now() - start);
  return out;
}

/**
 * One SecAgg+ round through fl-core's own state machines (as `simulateSecAgg` drives them),
 * timed per client and for the server. `dropFraction` of the clients leave after sharing
 * their keys and never send a masked input: the server must rebuild their pairwise masks.
 */
function timedRound(n: number, d: number, dropFraction: number, run: number): RoundTiming {
  const k = defaultSecAggNeighbours(n);
  // With 30% drop-outs the default majority threshold aborts (params.ts says why); k/4 survives.
  const threshold = dropFraction > 0 ? Math.max(2, Math.ceil(k / 4)) : undefined;
  const params = secAggParams({ n, d, seed: seedBytes(run, 0xffff), ...(threshold ? { threshold } : {}) });
  const rng = seededRng(run + 11);
  const floats = Array.from({ length: 4 }, () =>
    Float32Array.from({ length: d }, () => 0.01 * gaussian(rng)),
  );
  const dropped = new Set(
    shuffle([...Array(n).keys()], seededRng(run + 7)).slice(0, Math.round(dropFraction * n)),
  );

  const clientMs = new Array<number>(n).fill(0);
  const plainClientMs = new Array<number>(n).fill(0);
  const maskMs = new Array<number>(n).fill(0);
  let serverMs = 0;
  const onServer = (ms: number): void => {
    serverMs += ms;
  };
  const clientInput: Uint32Array[] = [];
  for (let id = 0; id < n; id++) {
    const x = floats[id % floats.length]!;
    clientInput.push(
      time(
        (ms) => {
          plainClientMs[id] = ms;
          clientMs[id] = ms;
        },
        () => encodeFixedPoint(x, { ...FIXED, rng: sfc32(id) }),
      ),
    );
  }

  const clients = clientInput.map((_, id) =>
    time(
      (ms) => {
        clientMs[id]! += ms;
      },
      () => new SecAggClient(params, id, chachaRandomBytes(seedBytes(run, id))),
    ),
  );
  const server = new SecAggServer(params);
  for (const c of clients) {
    const msg = time(
      (ms) => (clientMs[c.id]! += ms),
      () => c.advertise(),
    );
    time(onServer, () => server.receiveAdvertise(c.id, msg));
  }
  const keys = time(onServer, () => server.closeAdvertise());
  for (const [id, msg] of keys) {
    const shares = time(
      (ms) => (clientMs[id]! += ms),
      () => clients[id]!.shareKeys(msg),
    );
    time(onServer, () => server.receiveShares(id, shares));
  }
  const deliveries = time(onServer, () => server.closeShares());
  for (const [id, msg] of deliveries) {
    if (dropped.has(id)) continue;
    const masked = time(
      (ms) => {
        clientMs[id]! += ms;
        maskMs[id] = ms;
      },
      () => clients[id]!.maskInput(msg, clientInput[id]!),
    );
    time(onServer, () => server.receiveMaskedInput(id, masked));
  }
  const requests = time(onServer, () => server.closeMaskedInput());
  for (const [id, request] of requests) {
    const response = time(
      (ms) => (clientMs[id]! += ms),
      () => clients[id]!.unmask(request),
    );
    time(onServer, () => server.receiveUnmask(id, response));
  }
  const result = time(onServer, () => server.finish());

  // The baseline: the server adds the same survivors' unmasked vectors, mod 2^32.
  const survivors = result.contributors;
  const plain = new Uint32Array(d);
  const start = performance.now();
  for (const id of survivors) {
    const v = clientInput[id]!;
    for (let i = 0; i < d; i++) plain[i] = plain[i]! + v[i]!;
  }
  const plainMs = performance.now() - start;
  for (let i = 0; i < d; i++) {
    if (plain[i] !== result.sum[i]) throw new Error(`secure sum differs from the plain sum at ${i}`);
  }
  const live = (ms: number[]): number[] => ms.filter((_, id) => !dropped.has(id));
  return {
    clientMs: live(clientMs),
    plainClientMs: live(plainClientMs),
    maskMs: live(maskMs),
    serverMs,
    plainServerMs: plainMs,
    survivors: survivors.length,
    k: params.k,
    threshold: params.threshold,
  };
}

/**
 * Secure aggregation cost at d = 100k: each client's whole SecAgg+ part (keys, shares,
 * masking, unmasking) against encoding its update to fixed point without masks, and the
 * server's whole round against summing the same unmasked vectors; n in {100, 500}, with
 * 0% and 30% of the clients dropping out after sharing their keys.
 */
export const secAggSuite: Suite = {
  id: 'secagg',
  title: 'Secure aggregation (SecAgg+) cost',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const d = ctx.tiny ? 1000 : 100_000;
    const sizes = ctx.tiny ? [6, 10] : [100, 500];
    const rows: BenchRow[] = [];
    for (const n of sizes) {
      for (const drop of [0, 0.3]) {
        const timings: RoundTiming[] = [];
        for (let run = 0; run < ctx.runs; run++) {
          ctx.log(`secagg: n = ${n}, ${drop * 100}% drop-outs, run ${run + 1}/${ctx.runs}`);
          try {
            timings.push(timedRound(n, d, drop, run + 1));
          } catch (err) {
            if (!(err instanceof PollenError && err.code === 'SECAGG_ABORTED')) throw err;
            ctx.log(`secagg: round aborted (${err.message})`);
          }
        }
        if (timings.length === 0) throw new Error(`every SecAgg round with n = ${n} aborted`);
        const client = median(timings.map((t) => median(t.clientMs)));
        const plainClient = median(timings.map((t) => median(t.plainClientMs)));
        const server = median(timings.map((t) => t.serverMs));
        const plainServer = median(timings.map((t) => t.plainServerMs));
        const first = timings[0]!;
        const label = `n = ${n}, d = ${d.toLocaleString('en')}, ${drop * 100}% drop-outs (k = ${first.k}, t = ${first.threshold})`;
        const extra = {
          maskInputMs: sig(median(timings.map((t) => median(t.maskMs)))),
          survivors: first.survivors,
          abortedRuns: ctx.runs - timings.length,
        };
        rows.push(
          {
            suite: 'secagg',
            name: `client: SecAgg+ per client, ${label}`,
            value: sig(client),
            unit: 'ms',
            baseline: { name: 'fixed-point encoding, no masks', value: sig(plainClient), unit: 'ms' },
            ratio: sig(client / plainClient),
            ratioMeaning: 'x the baseline time',
            runs: timings.length,
            extra,
            note: 'median over clients of each run, then over runs',
          },
          {
            suite: 'secagg',
            name: `server: SecAgg+ round, ${label}`,
            value: sig(server),
            unit: 'ms',
            baseline: { name: 'summing the unmasked vectors', value: sig(plainServer), unit: 'ms' },
            ratio: sig(server / plainServer),
            ratioMeaning: 'x the baseline time',
            runs: timings.length,
            extra: { survivors: first.survivors, abortedRuns: ctx.runs - timings.length },
          },
        );
      }
    }
    return rows;
  },
};
