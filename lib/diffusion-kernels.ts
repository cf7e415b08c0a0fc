// DiffusionRank kernels (placeholder; being written)
export {};
