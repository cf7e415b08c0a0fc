// placeholder: implemented by the kernels work (issue 4)
int main() { return 0; }
