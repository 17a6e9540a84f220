"""Power kernels for generalized kernel thinning (Dwivedi & Mackey, ICLR 2022).

A power kernel k_α has the eigenvalues of k raised to α ∈ [1/2, 1]; α = 1/2
is the square-root kernel of the original KT paper. Like goodpoints, every
kernel here has sup-norm 1, so "k + k_α" (KT+) needs no rescaling.
"""

import numpy as np

from .._utils._validation import check_positive_scalar
from ._radial import (
    Cauchy,
    Gaussian,
    GeneralMatern,
    InverseMultiquadric,
    InverseMultiquadricPower,
    Laplacian,
    Matern,
)


def _matern_power(bandwidth, nu, alpha, n_features):
    # Generalized KT, appendix on power kernels (and goodpoints' examples): with the
    # Sobolev-order smoothness ν_s = ν + d/2, the α-power of Matérn(ν_s) is
    # Matérn(α·ν_s) at the same length scale; it exists iff α·ν_s > d/2.
    if n_features is None:
        raise ValueError("n_features is needed for the power of a Laplacian/Matérn kernel.")
    nu_s = nu + n_features / 2.0
    alpha_min = n_features / (2.0 * nu_s)
    if not alpha > alpha_min:
        raise ValueError(
            f"power must exceed d/(2ν + d) = {alpha_min:.4g} for a Matérn kernel with "
            f"ν={nu} in d={n_features} dimensions (the power kernel must be positive "
            f"definite); got {alpha}."
        )
    # Rounding keeps ν = 1.5 exact when it is one of Matern's closed forms.
    new_nu = round(alpha * nu_s - n_features / 2.0, 12)
    if new_nu in Matern._NUS:
        return Matern(bandwidth=bandwidth, nu=new_nu)
    return GeneralMatern(bandwidth=bandwidth, nu=new_nu)


def min_power(kernel, n_features):
    """Smallest admissible power α (exclusive for Matérn, inclusive 1/2 otherwise).

    Parameters
    ----------
    kernel : Kernel
        The kernel whose power kernel is wanted.
    n_features : int
        Dimension d of the data.

    Returns
    -------
    alpha_min : float
        d/(1 + d) for the Laplacian, d/(2ν + d) for Matérn kernels, 1/2 otherwise.

    Examples
    --------
    >>> from kernelkit import Gaussian, Laplacian
    >>> from kernelkit.kernels import min_power
    >>> min_power(Gaussian(1.0), 3), min_power(Laplacian(1.0), 3)
    (0.5, 0.75)
    """
    if isinstance(kernel, Laplacian):
        return n_features / (1.0 + n_features)
    if isinstance(kernel, (Matern, GeneralMatern)):
        return n_features / (2.0 * float(kernel.nu) + n_features)
    return 0.5


def power_kernel(kernel, alpha, n_features=None):
    """The α-power kernel k_α of a kernel (α ∈ [1/2, 1]; α = 1/2 is the square root).

    Gaussian(σ) → Gaussian(σ·√α); Laplacian(σ) = Matérn(σ, ν=1/2) and Matérn(σ, ν)
    → Matérn(σ, α·(ν + d/2) − d/2), which needs α > d/(2ν + d); IMQ/Cauchy
    (exponent β) have the square root (α = 1/2 only) with exponent d/4 + β/2.
    Kernels are defined up to a positive factor, which kernel thinning ignores.

    Parameters
    ----------
    kernel : Kernel
        A resolved kernel (numeric bandwidth).
    alpha : float
        Power in [1/2, 1].
    n_features : int, optional
        Dimension d; needed for Laplacian, Matérn and IMQ kernels.

    Returns
    -------
    Kernel

    Examples
    --------
    >>> from kernelkit import Gaussian, Laplacian
    >>> from kernelkit.kernels import power_kernel
    >>> round(float(power_kernel(Gaussian(2.0), 0.5).bandwidth) ** 2, 12)  # variance 4 -> 2
    2.0
    >>> power_kernel(Laplacian(1.0), 0.75, n_features=1)
    GeneralMatern(bandwidth=1.0, nu=0.25)
    """
    alpha = check_positive_scalar(alpha, "power")
    if not 0.5 <= alpha <= 1.0:
        raise ValueError(f"power must lie in [0.5, 1]; got {alpha}.")
    if alpha == 1.0:
        return kernel
    bw = kernel.bandwidth
    if isinstance(kernel, Gaussian):
        return Gaussian(bandwidth=bw * np.sqrt(alpha))
    if isinstance(kernel, Laplacian):
        return _matern_power(bw, 0.5, alpha, n_features)
    if isinstance(kernel, (Matern, GeneralMatern)):
        return _matern_power(bw, float(kernel.nu), alpha, n_features)
    if isinstance(kernel, (Cauchy, InverseMultiquadric, InverseMultiquadricPower)):
        if alpha != 0.5:
            raise ValueError(
                f"Only the square root (power=0.5) of {type(kernel).__name__} is known; "
                f"got power={alpha}."
            )
        if n_features is None:
            raise ValueError("n_features is needed for the root of an IMQ-type kernel.")
        beta = {Cauchy: 1.0, InverseMultiquadric: 0.5}.get(type(kernel))
        if beta is None:
            beta = float(kernel.exponent)
        return InverseMultiquadricPower(bandwidth=bw, exponent=n_features / 4.0 + beta / 2.0)
    raise ValueError(
        f"No power kernel is known for {type(kernel).__name__}; use split_kernel='target'."
    )
