// placeholder: implemented by the kernels work (issue 4)
