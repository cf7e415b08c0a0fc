// Device tensors: the native Tensor handle (N-API ObjectWrap) with its types.
import { native } from './native.js';

export type DType = 'f32' | 'i32' | 'u32' | 'u8';
export type Device = 'cpu' | 'cuda';
export type TypedArrayOf<D extends DType> = D extends 'f32'
  ? Float32Array
  : D extends 'i32'
    ? Int32Array
    : D extends 'u32'
      ? Uint32Array
      : Uint8Array;
export type TensorData = Float32Array | Int32Array | Uint32Array | Uint8Array;

/**
 * A dense array on a device. Create with Tensor.from / Tensor.zeros; read back
 * with toArray(); free with dispose() (the GC finalizer frees it too).
 */
export interface Tensor<D extends DType = DType> {
  readonly shape: number[];
  readonly dtype: D;
  readonly device: Device;
  readonly numel: number;
  readonly disposed: boolean;
  /** True when the tensor is a zero-copy view of the TypedArray it was created from (CPU only). */
  readonly isView: boolean;
  /** A copy of the data (from the GPU for CUDA tensors). */
  toArray(): TypedArrayOf<D>;
  /** Overwrites the data from a TypedArray of the same dtype and length. */
  copyFrom(array: TypedArrayOf<D>): this;
  /** Frees the memory now; later use throws. Refused while an async kernel uses the tensor. */
  dispose(): void;
  /** A copy on another device ('auto' = the active backend). */
  to(device: Device | 'auto'): Tensor<D>;
  /**
   * A tensor of `shape` over elements [offset, offset + numel) of this one, sharing its memory
   * (no copy; keeps this tensor alive). Disposing this tensor makes the view unusable.
   */
  view(shape: number[], offset?: number): Tensor<D>;
}

export interface TensorFromOptions {
  /** Default: the active backend (backend().active). */
  device?: Device | 'auto';
  /** CPU only: copy the data (default false: a zero-copy view that keeps the array alive). CUDA always copies. */
  copy?: boolean;
}

export interface TensorConstructor {
  /** A tensor holding `array` with `shape` (default [array.length]). */
  from<A extends TensorData>(array: A, shape?: number[], options?: TensorFromOptions): Tensor<DTypeOf<A>>;
  zeros<D extends DType = 'f32'>(shape: number[], options?: { dtype?: D; device?: Device | 'auto' }): Tensor<D>;
}
export type DTypeOf<A> = A extends Float32Array ? 'f32' : A extends Int32Array ? 'i32' : A extends Uint32Array ? 'u32' : 'u8';

/** The Tensor class (instances are created only by Tensor.from / Tensor.zeros). */
export const Tensor: TensorConstructor = {
  from: (array, shape, options) => native().Tensor.from(array, shape, options) as never,
  zeros: (shape, options) => native().Tensor.zeros(shape, options) as never,
};

/** True when x is an ordo Tensor. */
export function isTensor(x: unknown): x is Tensor {
  return typeof x === 'object' && x !== null && x instanceof (native().Tensor as unknown as new () => object);
}
