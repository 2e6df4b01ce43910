import { readFileSync } from 'node:fs';
import { validateTaskSpec } from '@pollen/fl-core';
import {
  arraySource,
  buildModel,
  evaluate,
  getFlatWeights,
  initTf,
  pickExamples,
  setFlatWeights,
  trainLocal,
} from '@pollen/ml';
import { builtinSplit } from './data/builtin.ts';

const [lrS, epochsS, roundsS, batchS, opt] = process.argv.slice(2);
await initTf();
const file = JSON.parse(readFileSync('tasks/next-char.json', 'utf8'));
const spec = validateTaskSpec({
  ...file,
  training: {
    epochs: Number(epochsS),
    batchSize: Number(batchS),
    learningRate: Number(lrS),
    optimizer: opt ?? 'adam',
  },
});
const split = builtinSplit(spec)!;
const model = await buildModel(spec);
let global = await getFlatWeights(model);
const t0 = Date.now();
const out: string[] = [];
for (let r = 0; r < Number(roundsS); r++) {
  const sum = new Float32Array(global.length);
  for (let c = 0; c < 3; c++) {
    const idx = Array.from({ length: 1150 }, () => Math.floor(Math.random() * split.train.count));
    const res = await trainLocal(
      model,
      arraySource(spec, pickExamples(spec, split.train, idx)),
      global,
      spec.training,
      spec,
    );
    const delta = (res as unknown as { delta: Float32Array }).delta;
    for (let i = 0; i < sum.length; i++) sum[i]! += delta[i]! / 3;
  }
  global = global.map((w, i) => w + sum[i]!);
  setFlatWeights(model, global);
  const ev = await evaluate(model, arraySource(spec, split.test), spec);
  out.push(ev.perplexity!.toFixed(2));
}
console.log(process.argv.slice(2).join(' '), 'ppl by round', out.join(' '), 's', (Date.now() - t0) / 1000);
