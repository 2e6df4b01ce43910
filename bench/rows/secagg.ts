import { encodeFixedPoint, sfc32 } from '@pollen/compression';
import {
  CIPHERTEXT_BYTES,
  chachaRandomBytes,
  fixedPointBits,
  gaussian,
  PollenError,
  SecAggClient,
  SecAggServer,
  SHARE_BYTES,
  secAggParams,
  seededRng,
  shuffle,
} from '@pollen/fl-core';
import { median, sig } from '../lib/stats.ts';
import type { BenchContext, BenchRow, Suite } from './types.ts';

/** Fixed point on [-1, 1] at the width the coordinator picks for n clients (fixedPointBits). */
const RANGE = 1;

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
  /** The server's unmasking alone: receiving the revealed shares and finish(). */
  readonly unmaskMs: number;
  /** Median bytes a surviving client uploads for the whole protocol (payloads, no transport framing). */
  readonly uploadBytes: number;
  /** Bytes of the same update quantized at the same width, unmasked and bit-packed. */
  readonly quantizedBytes: number;
  readonly bits: number;
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
  // The defaults the coordinator uses: k = 2 ceil(1.5 log2 n), t = ceil(k/3) (params.ts).
  const params = secAggParams({ n, d, seed: seedBytes(run, 0xffff) });
  const bits = fixedPointBits(n);
  const uploaded = new Array<number>(n).fill(64); // the two public keys
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
        () => encodeFixedPoint(x, { range: RANGE, bits, rng: sfc32(id) }),
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
    uploaded[id]! += shares.shares.length * (4 + CIPHERTEXT_BYTES);
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
    uploaded[id]! += masked.masked.byteLength;
    time(onServer, () => server.receiveMaskedInput(id, masked));
  }
  const requests = time(onServer, () => server.closeMaskedInput());
  let unmaskMs = 0;
  const onUnmask = (ms: number): void => {
    unmaskMs += ms;
    onServer(ms);
  };
  for (const [id, request] of requests) {
    const response = time(
      (ms) => (clientMs[id]! += ms),
      () => clients[id]!.unmask(request),
    );
    uploaded[id]! += (response.selfMaskShares.length + response.keyShares.length) * (4 + SHARE_BYTES);
    time(onUnmask, () => server.receiveUnmask(id, response));
  }
  const result = time(onUnmask, () => server.finish());

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
    unmaskMs,
    uploadBytes: median(live(uploaded)),
    quantizedBytes: Math.ceil((d * bits) / 8),
    bits,
    survivors: survivors.length,
    k: params.k,
    threshold: params.threshold,
  };
}

/**
 * Secure aggregation cost at d = 100k, through fl-core's own state machines: each client's
 * masking (maskInput: its k pairwise masks and its self-mask, ChaCha20 expansions) and its
 * whole SecAgg+ part (keys, shares, masking, unmasking) against encoding its update to fixed
 * point without masks; the server's unmasking (shares in, secrets rebuilt, masks removed) and
 * whole round against summing the same unmasked vectors; n in {100, 500, 1000}, with 0% and
 * 30% of the clients dropping out after sharing their keys (the server rebuilds their
 * pairwise masks); and the upload expansion: a surviving client's bytes for the whole protocol
 * against its update quantized at the same width, unmasked and bit-packed (target <= 1.5x).
 *
 * Every simulated client does its real work, so a round of n = 1000 takes minutes on one core
 * (1000 clients x 30 neighbours x (two X25519 + one 400 KB ChaCha20 mask)); n >= 500 is run
 * once whatever --runs says, n = 100 --runs times.
 */
export const secAggSuite: Suite = {
  id: 'secagg',
  title: 'Secure aggregation (SecAgg+) cost',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const d = ctx.tiny ? 1000 : 100_000;
    const sizes = ctx.tiny ? [6, 10] : [100, 500, 1000];
    const rows: BenchRow[] = [];
    for (const n of sizes) {
      const runs = n >= 500 ? 1 : ctx.runs;
      for (const drop of [0, 0.3]) {
        const timings: RoundTiming[] = [];
        for (let run = 0; run < runs; run++) {
          ctx.log(`secagg: n = ${n}, ${drop * 100}% drop-outs, run ${run + 1}/${runs}`);
          try {
            timings.push(timedRound(n, d, drop, run + 1));
          } catch (err) {
            if (!(err instanceof PollenError && err.code === 'SECAGG_ABORTED')) throw err;
            ctx.log(`secagg: round aborted (${err.message})`);
          }
        }
        if (timings.length === 0) throw new Error(`every SecAgg round with n = ${n} aborted`);
        const client = median(timings.map((t) => median(t.clientMs)));
        const mask = median(timings.map((t) => median(t.maskMs)));
        const plainClient = median(timings.map((t) => median(t.plainClientMs)));
        const server = median(timings.map((t) => t.serverMs));
        const unmask = median(timings.map((t) => t.unmaskMs));
        const plainServer = median(timings.map((t) => t.plainServerMs));
        const first = timings[0]!;
        const label = `n = ${n}, d = ${d.toLocaleString('en')}, ${drop * 100}% drop-outs (k = ${first.k}, t = ${first.threshold})`;
        const extra = { survivors: first.survivors, abortedRuns: runs - timings.length };
        const plainEncode = { name: 'fixed-point encoding, no masks', value: sig(plainClient), unit: 'ms' };
        const plainSum = { name: 'summing the unmasked vectors', value: sig(plainServer), unit: 'ms' };
        const row = (
          name: string,
          value: number,
          baseline: NonNullable<BenchRow['baseline']>,
          more = {},
        ): BenchRow => ({
          suite: 'secagg',
          name: `${name}, ${label}`,
          value: sig(value),
          unit: 'ms',
          baseline,
          ratio: sig(value / baseline.value!),
          ratioMeaning: 'x the baseline time',
          runs: timings.length,
          extra: { ...extra, ...more },
        });
        rows.push(
          row('client masking (maskInput)', mask, plainEncode, {
            note: 'median over clients of each run, then over runs',
          }),
          row('client: whole SecAgg+ part', client, plainEncode),
          row('server unmasking (shares in, finish)', unmask, plainSum),
          row('server: whole SecAgg+ round', server, plainSum),
        );
        const upload = median(timings.map((t) => t.uploadBytes));
        rows.push({
          suite: 'secagg',
          name: `upload per client, ${label}`,
          value: Math.round(upload),
          unit: 'bytes',
          baseline: {
            name: `the update quantized at ${first.bits} bits, unmasked, packed`,
            value: first.quantizedBytes,
            unit: 'bytes',
          },
          ratio: sig(upload / first.quantizedBytes),
          ratioMeaning: 'x the baseline bytes (target <= 1.5)',
          runs: timings.length,
          extra: {
            ...extra,
            bits: first.bits,
            maskedVectorBytes: 4 * d,
            vsInt32Words: sig(upload / (4 * d)),
          },
          note: 'masks live mod 2^32, so each value travels as a 32-bit word: 32/bits of the packed update plus keys and shares',
        });
      }
    }
    return rows;
  },
};
