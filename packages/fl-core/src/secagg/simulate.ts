import { PollenError } from '../errors.ts';
import { SecAggClient } from './client.ts';
import type { SecAggCrypto } from './crypto.ts';
import type { SecAggParams } from './params.ts';
import type { RandomBytes } from './random.ts';
import { type SecAggResult, SecAggServer } from './server.ts';

/**
 * Clients that vanish at each point of a round, for simulations and tests. The four points are
 * where Bonawitz et al. (CCS 2017) analyse drop-outs: a client gone after advertising never
 * shares (it is simply not in U2); one gone after sharing never sends a masked input, so the
 * server must reconstruct its mask key; one gone after its masked input never answers the
 * unmask request; one gone during unmasking computes its answer, which never arrives.
 */
export interface SecAggDropouts {
  readonly afterAdvertise?: Iterable<number>;
  readonly afterShare?: Iterable<number>;
  readonly afterMaskedInput?: Iterable<number>;
  readonly duringUnmask?: Iterable<number>;
}

/** One in-process round: the cohort's inputs, each client's randomness, and who drops when. */
export interface SecAggSimulation {
  readonly params: SecAggParams;
  /** One fixed-point vector of `params.d` words per client, indexed by id. */
  readonly inputs: readonly Uint32Array[];
  /** Each client's randomness source (a CSPRNG in production, `chachaRandomBytes` in tests). */
  readonly randomBytes: (id: number) => RandomBytes;
  readonly dropouts?: SecAggDropouts;
  /** The clients' and the server's primitives (crypto.ts); pure JavaScript by default. */
  readonly crypto?: { readonly clients?: SecAggCrypto; readonly server?: SecAggCrypto };
}

/** The server's result, plus the clients that aborted on their own, with why. */
export interface SecAggSimulationResult extends SecAggResult {
  readonly clientErrors: ReadonlyMap<number, PollenError>;
}

/**
 * Run a whole round in one process, messages passed as they would be over a socket: the same
 * state machines the coordinator and the worker run, with no transport. A client that throws
 * a PollenError falls silent, as it would in a browser; a server abort (SECAGG_ABORTED) is
 * thrown to the caller, since then nothing is released.
 */
export function simulateSecAgg(options: SecAggSimulation): SecAggSimulationResult {
  const { params, inputs, dropouts = {} } = options;
  if (inputs.length !== params.n) {
    throw new PollenError('INVALID_ARGUMENT', `"inputs" expected ${params.n} vectors, got ${inputs.length}`);
  }
  const clients = inputs.map(
    (_, id) => new SecAggClient(params, id, options.randomBytes(id), options.crypto?.clients),
  );
  const server = new SecAggServer(params, options.crypto?.server);
  const clientErrors = new Map<number, PollenError>();
  const alive = new Set(clients.map((client) => client.id));
  const leave = (ids: Iterable<number> | undefined): void => {
    for (const id of ids ?? []) {
      alive.delete(id);
      clients[id]?.abort();
    }
  };
  const answer = <T>(id: number, step: () => T): T | undefined => {
    if (!alive.has(id)) return undefined;
    try {
      return step();
    } catch (err) {
      if (!(err instanceof PollenError)) throw err;
      clientErrors.set(id, err);
      alive.delete(id);
      return undefined;
    }
  };
  /** Clients the server left without a message are out of the round. */
  const keepOnly = (ids: ReadonlyMap<number, unknown>): void => {
    leave([...alive].filter((id) => !ids.has(id)));
  };

  for (const client of clients) server.receiveAdvertise(client.id, client.advertise());
  const keys = server.closeAdvertise();
  keepOnly(keys);
  leave(dropouts.afterAdvertise);
  for (const [id, message] of keys) {
    const shares = answer(id, () => clients[id]!.shareKeys(message));
    if (shares) server.receiveShares(id, shares);
  }
  const deliveries = server.closeShares();
  keepOnly(deliveries);
  leave(dropouts.afterShare);
  for (const [id, message] of deliveries) {
    const masked = answer(id, () => clients[id]!.maskInput(message, inputs[id]!));
    if (masked) server.receiveMaskedInput(id, masked);
  }
  const requests = server.closeMaskedInput();
  leave(dropouts.afterMaskedInput);
  const lost = new Set(dropouts.duringUnmask ?? []);
  for (const [id, request] of requests) {
    const response = answer(id, () => clients[id]!.unmask(request));
    if (response && !lost.has(id)) server.receiveUnmask(id, response);
  }
  return { ...server.finish(), clientErrors };
}
