import { describe, expect, it } from 'vitest';
import { SecAggClient } from './client.ts';
import type { DeliveryMessage, KeysMessage, UnmaskRequest } from './messages.ts';
import { type SecAggParams, secAggParams } from './params.ts';
import { chachaRandomBytes } from './random.ts';
import { SecAggServer } from './server.ts';

function randomFor(id: number, salt = 0): ReturnType<typeof chachaRandomBytes> {
  const seed = new Uint8Array(32);
  new DataView(seed.buffer).setUint32(0, id);
  seed[31] = salt;
  return chachaRandomBytes(seed);
}

interface Round {
  params: SecAggParams;
  clients: SecAggClient[];
  server: SecAggServer;
  keys: Map<number, KeysMessage>;
  deliveries: Map<number, DeliveryMessage>;
  requests: Map<number, UnmaskRequest>;
  masked: Map<number, Uint32Array>;
}

/** Run a round of n clients up to the unmask requests. */
function roundToUnmask(n: number, d: number, input: (id: number) => Uint32Array): Round {
  const params = secAggParams({ n, d, seed: new Uint8Array(32).fill(n) });
  const clients = Array.from({ length: n }, (_, id) => new SecAggClient(params, id, randomFor(id)));
  const server = new SecAggServer(params);
  for (const c of clients) server.receiveAdvertise(c.id, c.advertise());
  const keys = server.closeAdvertise();
  for (const [id, m] of keys) server.receiveShares(id, clients[id]!.shareKeys(m));
  const deliveries = server.closeShares();
  const masked = new Map<number, Uint32Array>();
  for (const [id, m] of deliveries) {
    const message = clients[id]!.maskInput(m, input(id));
    masked.set(id, message.masked);
    server.receiveMaskedInput(id, message);
  }
  return { params, clients, server, keys, deliveries, requests: server.closeMaskedInput(), masked };
}

const code = (c: string): unknown => expect.objectContaining({ code: c });

/** Pearson chi-square of the byte histogram against uniform (255 degrees of freedom). */
function byteChiSquare(words: Uint32Array): number {
  const bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
  const counts = new Array<number>(256).fill(0);
  for (const b of bytes) counts[b]!++;
  const expected = bytes.length / 256;
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}

/** Chi-square of the count of ones at each of the 32 bit positions (32 degrees of freedom). */
function bitChiSquare(words: Uint32Array): number {
  let sum = 0;
  for (let bit = 0; bit < 32; bit++) {
    let ones = 0;
    for (const w of words) ones += (w >>> bit) & 1;
    sum += (ones - words.length / 2) ** 2 / (words.length / 4);
  }
  return sum;
}

// Upper 0.1% points of the chi-square distribution.
const CHI2_255_999 = 330.52;
const CHI2_32_999 = 62.49;

describe('SecAggClient', () => {
  it('sends the server a masked vector indistinguishable from uniform, whatever the input', () => {
    const d = 4096;
    // Small fixed-point values, as an encoded update looks: mostly near zero, very non-uniform.
    const input = (id: number): Uint32Array =>
      Uint32Array.from({ length: d }, (_, i) => ((i % 7) - 3 + id) >>> 0);
    const { masked } = roundToUnmask(10, d, input);
    const fromOne = masked.get(0)!;
    expect(byteChiSquare(input(0))).toBeGreaterThan(CHI2_255_999);
    expect(bitChiSquare(input(0))).toBeGreaterThan(CHI2_32_999);
    expect(byteChiSquare(fromOne)).toBeLessThan(CHI2_255_999);
    expect(bitChiSquare(fromOne)).toBeLessThan(CHI2_32_999);
    // Not merely uniform-looking: uncorrelated with the input.
    const diff = Uint32Array.from(fromOne, (w, i) => w - input(0)[i]!);
    expect(byteChiSquare(diff)).toBeLessThan(CHI2_255_999);
  });

  it('never reveals both secrets of one partner: refuses a request naming it twice, and a second request', () => {
    const { clients, requests } = roundToUnmask(10, 8, () => new Uint32Array(8));
    const [first, second] = [...requests.entries()];
    const [idA, requestA] = first!;
    const both = { survivors: requestA.survivors, dropped: [requestA.survivors[0]!] };
    expect(() => clients[idA]!.unmask(both)).toThrow(code('SECAGG_REFUSED'));
    expect(clients[idA]!.stage).toBe('aborted');
    expect(() => clients[idA]!.unmask(requestA)).toThrow(code('SECAGG_STAGE'));

    const [idB, requestB] = second!;
    const answer = clients[idB]!.unmask(requestB);
    expect(answer.selfMaskShares.map((s) => s.peer)).toEqual(requestB.survivors);
    expect(answer.keyShares).toEqual([]);
    const flipped = { survivors: [], dropped: requestB.survivors };
    expect(() => clients[idB]!.unmask(flipped)).toThrow(code('SECAGG_REFUSED'));
  });

  it('refuses to unmask when too few of its partners survived, or for a stranger', () => {
    const { clients, requests, params } = roundToUnmask(10, 8, () => new Uint32Array(8));
    const [first, second] = [...requests.entries()];
    const [idA, requestA] = first!;
    const [idB, requestB] = second!;
    const few = requestA.survivors.slice(0, params.threshold - 2);
    const rest = requestA.survivors.slice(params.threshold - 2);
    expect(() => clients[idA]!.unmask({ survivors: few, dropped: rest })).toThrow(code('SECAGG_ABORTED'));
    const stranger = [...Array(10).keys()].find((v) => v !== idB && !requestB.survivors.includes(v))!;
    expect(() => clients[idB]!.unmask({ survivors: [...requestB.survivors, stranger], dropped: [] })).toThrow(
      code('INVALID_MESSAGE'),
    );
  });

  it('aborts, wiping its secrets, on a neighbourhood below threshold, a wrong input or a forged share', () => {
    const params = secAggParams({ n: 10, d: 4, seed: new Uint8Array(32) });
    const peers = Array.from({ length: 10 }, (_, id) => new SecAggClient(params, id, randomFor(id, 1)));
    const server = new SecAggServer(params);
    for (const c of peers) server.receiveAdvertise(c.id, c.advertise());
    const keys = server.closeAdvertise();
    const client = peers[0]!;
    const message = keys.get(0)!;
    const short = { neighbours: message.neighbours.slice(0, params.threshold - 1) };
    expect(() => client.shareKeys(short)).toThrow(code('SECAGG_ABORTED'));
    expect(client.stage).toBe('aborted');

    const other = peers[1]!;
    other.shareKeys(keys.get(1)!);
    expect(() => other.maskInput({ shares: [] }, new Uint32Array(5))).toThrow(code('SHAPE_MISMATCH'));
    expect(other.stage).toBe('aborted');

    const third = peers[2]!;
    third.shareKeys(keys.get(2)!);
    const forged = { shares: [{ peer: keys.get(2)!.neighbours[0]!.id, ciphertext: new Uint8Array(82) }] };
    expect(() => third.maskInput(forged, new Uint32Array(4))).toThrow(code('INVALID_MESSAGE'));
    expect(third.stage).toBe('aborted');
  });

  it('checks its inputs: stage order, neighbours, vector length', () => {
    const params = secAggParams({ n: 10, d: 4, seed: new Uint8Array(32) });
    const client = new SecAggClient(params, 3, randomFor(3));
    expect(() => client.shareKeys({ neighbours: [] })).toThrow(code('SECAGG_STAGE'));
    expect(client.stage).toBe('advertise');
    const { cPk, sPk } = client.advertise();
    expect(client.stage).toBe('share');
    const stranger = { neighbours: [{ id: 3, cPk, sPk }] };
    expect(() => client.shareKeys(stranger)).toThrow(code('INVALID_MESSAGE'));

    const fresh = new SecAggClient(params, 0, randomFor(0));
    expect(() => new SecAggClient(params, 10, randomFor(0))).toThrow(/"id"/);
    fresh.abort();
    expect(() => fresh.advertise()).toThrow(code('SECAGG_STAGE'));
  });
});
