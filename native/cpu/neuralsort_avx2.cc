// placeholder: AVX2 NeuralSort row kernels (filled by the optimisation work)
