import { describe, expect, it } from 'vitest';
import { SecAggClient } from './client.ts';
import type { UnmaskResponse } from './messages.ts';
import { type SecAggParams, secAggParams } from './params.ts';
import { chachaRandomBytes } from './random.ts';
import { SecAggServer } from './server.ts';

const N = 10;
const D = 16;
const code = (c: string): unknown => expect.objectContaining({ code: c });

function setup(): {
  params: SecAggParams;
  clients: SecAggClient[];
  server: SecAggServer;
  inputs: Uint32Array[];
} {
  const params = secAggParams({ n: N, d: D, seed: new Uint8Array(32).fill(42) });
  const clients = Array.from({ length: N }, (_, id) => {
    const seed = new Uint8Array(32);
    seed[0] = id;
    return new SecAggClient(params, id, chachaRandomBytes(seed));
  });
  const inputs = clients.map(({ id }) => Uint32Array.from({ length: D }, (_, i) => 0xfffffff0 + id * i));
  return { params, clients, server: new SecAggServer(params), inputs };
}

/** Drive everyone but `silent` (per stage) through to the unmask responses, not sending them. */
function toResponses(
  silentAtMask: number[] = [],
): ReturnType<typeof setup> & { responses: Map<number, UnmaskResponse> } {
  const round = setup();
  const { clients, server, inputs } = round;
  for (const c of clients) server.receiveAdvertise(c.id, c.advertise());
  for (const [id, m] of server.closeAdvertise()) server.receiveShares(id, clients[id]!.shareKeys(m));
  for (const [id, m] of server.closeShares()) {
    const masked = clients[id]!.maskInput(m, inputs[id]!);
    if (!silentAtMask.includes(id)) server.receiveMaskedInput(id, masked);
  }
  const responses = new Map<number, UnmaskResponse>();
  for (const [id, m] of server.closeMaskedInput()) responses.set(id, clients[id]!.unmask(m));
  return { ...round, responses };
}

function sumOf(inputs: Uint32Array[], ids: number[]): Uint32Array {
  const out = new Uint32Array(D);
  for (const id of ids) for (let i = 0; i < D; i++) out[i] = out[i]! + inputs[id]![i]!;
  return out;
}

describe('SecAggServer', () => {
  it('validates every input: sender, duplicates, shape, stage', () => {
    const { clients, server } = setup();
    const adverts = clients.map((c) => c.advertise());
    expect(() => server.receiveAdvertise(N, adverts[0])).toThrow(code('NOT_IN_ROUND'));
    expect(() => server.receiveAdvertise(-1, adverts[0])).toThrow(code('NOT_IN_ROUND'));
    expect(() => server.receiveAdvertise(0, { cPk: new Uint8Array(31), sPk: adverts[0]!.sPk })).toThrow(
      code('INVALID_MESSAGE'),
    );
    expect(() => server.receiveShares(0, { shares: [] })).toThrow(code('SECAGG_STAGE'));
    for (const c of clients.slice(1)) server.receiveAdvertise(c.id, adverts[c.id]);
    expect(server.pending()).toEqual([0]);
    expect(() => server.receiveAdvertise(1, adverts[1])).toThrow(code('REPLAY'));
    const keys = server.closeAdvertise();
    expect(keys.has(0)).toBe(false);
    expect(() => server.receiveAdvertise(0, adverts[0])).toThrow(code('SECAGG_STAGE'));

    const shares = clients[1]!.shareKeys(keys.get(1)!);
    expect(() => server.receiveShares(0, shares)).toThrow(code('NOT_IN_ROUND'));
    expect(() => server.receiveShares(1, { shares: shares.shares.slice(1) })).toThrow(
      code('INVALID_MESSAGE'),
    );
    server.receiveShares(1, shares);
    expect(() => server.receiveShares(1, shares)).toThrow(code('REPLAY'));
    for (const [id, m] of keys) if (id !== 1) server.receiveShares(id, clients[id]!.shareKeys(m));
    const deliveries = server.closeShares();
    expect(server.pending()).toEqual([...deliveries.keys()].sort((a, b) => a - b));

    expect(() => server.receiveMaskedInput(2, { masked: new Uint32Array(D - 1) })).toThrow(
      code('SHAPE_MISMATCH'),
    );
    expect(() => server.receiveMaskedInput(2, { masked: new Float32Array(D) })).toThrow(
      code('INVALID_MESSAGE'),
    );
    server.receiveMaskedInput(2, clients[2]!.maskInput(deliveries.get(2)!, new Uint32Array(D)));
    expect(() => server.receiveMaskedInput(2, { masked: new Uint32Array(D) })).toThrow(code('REPLAY'));
    expect(() => server.finish()).toThrow(code('SECAGG_STAGE'));
  });

  it('finishes as soon as the shares suffice, and refuses late and malformed answers', () => {
    const { server, responses, inputs, params } = toResponses([4]);
    expect(() => server.receiveMaskedInput(4, { masked: new Uint32Array(D) })).toThrow(code('SECAGG_STAGE'));
    expect(() => server.receiveUnmask(4, [...responses.values()][0])).toThrow(code('NOT_IN_ROUND'));
    const entries = [...responses.entries()];
    const [firstId, firstResponse] = entries[0]!;
    const missingOne = { ...firstResponse, selfMaskShares: firstResponse.selfMaskShares.slice(1) };
    expect(() => server.receiveUnmask(firstId, missingOne)).toThrow(code('INVALID_MESSAGE'));
    expect(server.canFinish()).toBe(false);
    let sent = 0;
    for (const [id, response] of entries) {
      if (server.canFinish()) break;
      server.receiveUnmask(id, response);
      sent++;
    }
    expect(sent).toBeLessThan(entries.length);
    expect(sent).toBeGreaterThanOrEqual(params.threshold);
    expect(() => server.receiveUnmask(firstId, firstResponse)).toThrow(code('REPLAY'));
    const contributors = [...responses.keys()].sort((a, b) => a - b);
    const result = server.finish();
    expect(result).toMatchObject({ contributors, dropped: [4] });
    expect(result.sum).toEqual(sumOf(inputs, contributors));
    expect(server.stage).toBe('done');
  });

  it('aborts before requesting any share when a drop-out leaves a secret without t holders', () => {
    const { clients, server, inputs, params } = setup();
    for (const c of clients) server.receiveAdvertise(c.id, c.advertise());
    for (const [id, m] of server.closeAdvertise()) server.receiveShares(id, clients[id]!.shareKeys(m));
    const deliveries = server.closeShares();
    const keep = params.threshold - 1;
    for (const [id, m] of deliveries) {
      const masked = clients[id]!.maskInput(m, inputs[id]!);
      if (id < keep) server.receiveMaskedInput(id, masked);
    }
    expect(() => server.closeMaskedInput()).toThrow(code('SECAGG_ABORTED'));
    expect(server.stage).toBe('aborted');
    expect(() => server.finish()).toThrow(code('SECAGG_STAGE'));
    expect(server.pending()).toEqual([]);
    // No client was asked for anything, so every one still holds its shares unrevealed.
    expect(clients.every((c) => c.stage === 'unmask')).toBe(true);
  });

  it('aborts, releasing no sum, when too few survivors answer the unmask request', () => {
    const { server, responses, params } = toResponses();
    for (const [id, response] of [...responses].slice(0, params.threshold - 1))
      server.receiveUnmask(id, response);
    expect(server.canFinish()).toBe(false);
    expect(() => server.finish()).toThrow(code('SECAGG_ABORTED'));
    expect(server.stage).toBe('aborted');
    expect(() => server.finish()).toThrow(code('SECAGG_STAGE'));
  });

  it('aborts when a recovered mask key does not match its public key (a corrupted share)', () => {
    const { server, responses } = toResponses([5]);
    for (const [id, response] of responses) {
      const keyShares = response.keyShares.map(({ peer, share }) => {
        const bad = share.slice();
        bad[32] = bad[32]! ^ 1;
        return { peer, share: bad };
      });
      server.receiveUnmask(id, { ...response, keyShares });
    }
    expect(() => server.finish()).toThrow(code('SECAGG_ABORTED'));
    expect(server.stage).toBe('aborted');
  });
});
