import { expectFloat32, expectInt, expectSortedIndices, fail } from './validate.ts';

/**
 * A vector of `dimension` entries of which only those at `indices` (strictly increasing) may
 * be non-zero; `values[j]` is the entry at `indices[j]`. What top-k, random-k and the shared
 * coordinate set produce and what a sparse frame carries.
 */
export interface SparseVector {
  readonly dimension: number;
  readonly indices: Uint32Array;
  readonly values: Float32Array;
}

/** Check a SparseVector built outside this package: lengths agree and indices are sorted and in range. */
export function validateSparse(sparse: SparseVector): SparseVector {
  expectInt('dimension', sparse.dimension, 0, 0xffffffff);
  expectSortedIndices('indices', sparse.indices, sparse.dimension);
  expectFloat32('values', sparse.values, sparse.indices.length);
  return sparse;
}

/** The values of `dense` at `indices` (a gather). Indices are trusted to be in range. */
export function gather(dense: Float32Array, indices: Uint32Array): Float32Array {
  const out = new Float32Array(indices.length);
  for (let j = 0; j < indices.length; j++) out[j] = dense[indices[j]!]!;
  return out;
}

/** The dense Float32Array a SparseVector stands for (zeros outside its indices). */
export function sparseToDense(sparse: SparseVector): Float32Array {
  const { dimension, indices, values } = sparse;
  if (values.length !== indices.length) fail('values', `length ${indices.length}`, values.length);
  const out = new Float32Array(dimension);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j]!;
    if (i >= dimension) fail(`indices[${j}]`, `index below ${dimension}`, i, 'SHAPE_MISMATCH');
    out[i] = values[j]!;
  }
  return out;
}
