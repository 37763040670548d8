/**
 * The public base model (`--base BASE.onnx`): its initializers by name and by
 * content hash, hashed exactly as the frontend hashes weights (ir/tensor.ts
 * `tensorHash` over the IR tensor), so equal bytes give equal hashes whatever
 * the initializer is called in either file.
 */
import { tensorHash } from '../../ir/tensor.ts';
import type { Tensor } from '../../ir/tensor.ts';
import type { BaseModel } from '../../passes/context.ts';
import { loadOnnx } from './load.ts';

export function loadBaseModel(path: string): BaseModel {
  const model = loadOnnx(path);
  const tensors = new Map<string, Tensor>();
  const byHash = new Map<string, string>();
  for (const [name, init] of model.initializers) {
    if (init.tensor.dtype !== 'f32') continue; // integer initializers are constants, not weights
    tensors.set(name, init.tensor);
    const hash = tensorHash(init.tensor);
    if (!byHash.has(hash)) byHash.set(hash, name);
  }
  return { file: path, tensors, byHash };
}
