# Shims for losses, optimizers, dropout and norms (included by _kernels.pyx).
