import {
  chachaRandomBytes,
  nobleSecAggCrypto,
  SecAggClient,
  SecAggServer,
  secAggParams,
} from '@pollen/fl-core';

/**
 * The page the browser SecAgg+ benchmark opens: one client's masking (fl-core's maskInput on
 * @noble's ChaCha20, as the contributor's worker runs it) timed in the tab, against the raw
 * keystream of the same number of words, same PRG, same tab. The other n - 1 clients of the
 * round advertise and share keys in the page too (untimed), so client 0 masks against real
 * neighbours.
 */

export interface MaskingRequest {
  readonly n: number;
  readonly d: number;
  readonly runs: number;
}

export interface MaskingResult {
  /** Milliseconds of client 0's maskInput, per run. */
  readonly maskMs: number[];
  /** Milliseconds of the raw keystream for the same words, per run. */
  readonly prgMs: number[];
  /** Masks client 0 expanded: its pairwise masks and its self-mask. */
  readonly masks: number;
  readonly k: number;
}

function seed(run: number, id: number): Uint8Array {
  const s = new Uint8Array(32);
  const view = new DataView(s.buffer);
  view.setUint32(0, run, true);
  view.setUint32(4, id, true);
  return s;
}

function measure(req: MaskingRequest): MaskingResult {
  const maskMs: number[] = [];
  const prgMs: number[] = [];
  let masks = 0;
  let k = 0;
  for (let run = 1; run <= req.runs; run++) {
    const params = secAggParams({ n: req.n, d: req.d, seed: seed(run, 0xffff) });
    k = params.k;
    const clients = Array.from(
      { length: req.n },
      (_, id) => new SecAggClient(params, id, chachaRandomBytes(seed(run, id))),
    );
    const server = new SecAggServer(params);
    for (const c of clients) server.receiveAdvertise(c.id, c.advertise());
    for (const [id, msg] of server.closeAdvertise()) server.receiveShares(id, clients[id]!.shareKeys(msg));
    const delivery = server.closeShares().get(0);
    if (!delivery) throw new Error('client 0 got no shares');
    const input = new Uint32Array(req.d).fill(7);
    let started = performance.now();
    clients[0]!.maskInput(delivery, input);
    maskMs.push(performance.now() - started);
    // Its pairwise masks (one per neighbour that shared) and its self-mask.
    masks = params.k + 1;
    const out = new Uint8Array(req.d * 4);
    const nonce = new Uint8Array(12);
    started = performance.now();
    for (let m = 0; m < masks; m++) nobleSecAggCrypto.keystream(seed(run, 1000 + m), nonce, 0, out);
    prgMs.push(performance.now() - started);
  }
  return { maskMs, prgMs, masks, k };
}

(window as unknown as { pollenMasking: (r: MaskingRequest) => MaskingResult }).pollenMasking = measure;
document.getElementById('status')!.textContent = 'ready';
document.body.dataset.ready = 'true';
