// Best-epoch selection and early stopping, shared by train() and trainDiffusionRank():
// the parameters of the epoch with the highest validation metric are kept; training
// stops once `patience` epochs (counted in steps of `validEvery`) bring no improvement.

export class BestEpoch {
  bestParams: Float32Array | undefined;
  bestEpoch = 0;
  bestValid: number | undefined;
  /** The last validation value seen (for progress reports). */
  lastValid: number | undefined;
  stoppedEarly = false;
  private sinceBest = 0;

  constructor(
    private readonly validEvery: number,
    private readonly patience: number,
  ) {}

  /** Records epoch `epoch`'s validation metric; `params` is read only when it is the best so far. */
  observe(epoch: number, valid: number, params: () => Float32Array): void {
    this.lastValid = valid;
    if (this.bestValid === undefined || valid > this.bestValid) {
      this.bestValid = valid;
      this.bestEpoch = epoch;
      this.bestParams = params();
      this.sinceBest = 0;
    } else {
      this.sinceBest += this.validEvery;
      if (this.patience > 0 && this.sinceBest >= this.patience) this.stoppedEarly = true;
    }
  }

  /** The parameters to keep: the best epoch's, or (no validation) the last epoch's, with that epoch's number. */
  final(lastEpoch: number, current: () => Float32Array): { params: Float32Array; bestEpoch: number } {
    if (this.bestParams) return { params: this.bestParams, bestEpoch: this.bestEpoch };
    return { params: current(), bestEpoch: lastEpoch };
  }
}
