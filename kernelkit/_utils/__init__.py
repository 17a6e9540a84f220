"""Shared helpers below the kernels: validation, scikit-learn compatibility,
progress bars and parallel building blocks. Private to kernelkit."""
