// Which compute backend ordo uses, and why.
import { native, type NativeCudaStatus } from './native.js';

export type BackendName = 'cpu' | 'cuda';

export interface BackendInfo {
  /** Backends compiled into the loaded binary. */
  compiled: BackendName[];
  /** The backend kernels run on now (ORDO_BACKEND=cpu|cuda|auto decides; auto prefers CUDA). */
  active: BackendName;
  /** Value of ORDO_BACKEND when set. */
  requested?: string;
  /** CUDA details, or the exact CUDA error (e.g. cudaErrorInsufficientDriver) when CUDA is not usable. */
  cuda: NativeCudaStatus;
}

/**
 * Reports what was compiled in, what is active and the CUDA state. The first
 * call probes the GPU (loads the driver if there is one); loading ordo does not.
 * Throws (code ORDO_BACKEND_ERROR) when ORDO_BACKEND=cuda cannot be honoured
 * or names an unknown backend.
 */
export function backend(): BackendInfo {
  const addon = native();
  const cuda = addon.cudaStatus();
  const active = addon.selectBackend();
  const info: BackendInfo = { compiled: cuda.compiled ? ['cpu', 'cuda'] : ['cpu'], active, cuda };
  const requested = process.env.ORDO_BACKEND;
  if (requested !== undefined && requested !== '') info.requested = requested;
  return info;
}

/** One-line description, e.g. "cpu (cuda compiled in, not usable: cudaErrorInsufficientDriver)". */
export function describeBackend(info: BackendInfo = backend()): string {
  if (info.active === 'cuda') {
    const d = info.cuda.devices[0];
    return `cuda (${d?.name ?? 'device 0'}, compute ${d?.computeCapability ?? '?'})`;
  }
  if (!info.cuda.compiled) return 'cpu (built without CUDA)';
  if (!info.cuda.usable) return `cpu (cuda compiled in, not usable: ${info.cuda.errorName})`;
  return 'cpu (forced by ORDO_BACKEND=cpu)';
}
