import { parentPort } from 'node:worker_threads';
import type { PollenErrorCode } from '@pollen/fl-core';
import { encodeExampleSet, readDataFile } from '@pollen/ml/data';
import type { ReadReply, ReadRequest } from './held-out-reader.ts';

/** The held-out reader's thread: each upload read against its task and encoded, in order. */
const port = parentPort!;

function read({ id, task, text, format, columns }: ReadRequest): ReadReply {
  try {
    const { examples } = readDataFile(task, text, format, columns);
    return { id, ok: true, count: examples.count, bytes: encodeExampleSet(task, examples) };
  } catch (err) {
    const code = (err as { code?: PollenErrorCode }).code ?? 'INTERNAL';
    return { id, ok: false, code, message: (err as Error).message };
  }
}

port.on('message', (req: ReadRequest) => {
  const reply = read(req);
  port.postMessage(reply, reply.ok ? [reply.bytes.buffer as ArrayBuffer] : []);
});
