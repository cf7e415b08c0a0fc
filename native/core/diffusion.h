// ordo/core/diffusion.h — DiffusionRank / TabDiff noise schedules, fused input, losses, pair sampler (placeholder; being written).
#pragma once
