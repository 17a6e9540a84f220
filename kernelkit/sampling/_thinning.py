"""Kernel thinning front ends: KT-SPLIT + KT-SWAP, power/KT+ split kernels and Compress++.

References: Dwivedi & Mackey, "Kernel Thinning" (JMLR 2024) and "Generalized
Kernel Thinning" (ICLR 2022); Shetty, Dwivedi & Mackey, "Distribution
Compression in Near-linear Time" (ICLR 2022). The reference implementation is
the ``goodpoints`` package; where the two differ it is said below.

Memory is O(n·d) plus blocks bounded by ``working_memory``: kernel values come
from :class:`~kernelkit.KernelOperator` (see :mod:`._kt_core`), nothing n×n
is stored for large n.
"""

import math
import numbers

import numpy as np

from .._backend import get_namespace
from .._utils._device import to_device
from .._utils._progress import progress
from .._utils._sklearn_compat import Interval, StrOptions, validate_params
from .._utils._validation import check_points
from ..kernels import (
    GeneralMatern,
    Laplacian,
    Matern,
    SumKernel,
    make_kernel,
    min_power,
    power_kernel,
)
from ._kt_core import _LazyRows, compress, thin_node
from ._params import BANDWIDTH_CONSTRAINT, KERNEL_CONSTRAINT

SPLIT_KERNELS = ("target", "root", "power", "kt+")

THINNING_CONSTRAINTS = {
    "kernel": KERNEL_CONSTRAINT,
    "bandwidth": BANDWIDTH_CONSTRAINT,
    "split_kernel": [StrOptions(set(SPLIT_KERNELS))],
    "power": [Interval(numbers.Real, 0.5, 1, closed="both"), None],
    "delta": [Interval(numbers.Real, 0, 1, closed="neither")],
    "swap": ["boolean"],
    "random_state": ["random_state", np.random.Generator],
    "verbose": ["verbose"],
}
ROUNDS_CONSTRAINT = [Interval(numbers.Integral, 0, None, closed="left"), StrOptions({"sqrt"})]


# -- random numbers -------------------------------------------------------------
def _generator(random_state):
    """A NumPy Generator: ints and None seed ``default_rng`` like goodpoints does."""
    if random_state is None or isinstance(random_state, numbers.Integral):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    raise TypeError(
        "random_state must be None, an int, a numpy Generator or a RandomState; "
        f"got {type(random_state).__name__}."
    )


# -- parameters --------------------------------------------------------------------
def _sqrt_rounds(n):
    """Halving rounds whose output size n/2^m is closest to √n (ties: more points)."""
    return max(0, math.ceil(math.log2(n) / 2.0 - 0.5))


def check_rounds(m, n):
    """Halving rounds for ``m`` ("sqrt" or an int already validated as ≥ 0) and n points."""
    if isinstance(m, str):
        return _sqrt_rounds(n)
    m = int(m)
    max_m = int(math.floor(math.log2(n)))
    if m > max_m:
        raise ValueError(
            f"m must be between 0 and floor(log2(n)) = {max_m} for n={n} points (the "
            f"coreset n/2^m must keep at least one point); got {m}."
        )
    return m


def _default_power(kernel, n_features):
    """α = 1/2 (the square root) where admissible, else the midpoint of (α_min, 1]."""
    if isinstance(kernel, (Laplacian, Matern, GeneralMatern)):
        low = min_power(kernel, n_features)
        return 0.5 if low < 0.5 else 0.5 * (low + 1.0)
    return 0.5


def _make_split_kernel(kernel, split_kernel, power, n_features):
    """The kernel that drives KT-SPLIT for a target kernel and a split-kernel choice."""
    if split_kernel == "target":
        return kernel
    if split_kernel == "root":
        if power is not None and power != 0.5:
            raise ValueError(
                f"split_kernel='root' is power=0.5; got power={power!r} (use 'power')."
            )
        alpha = 0.5
    else:
        alpha = _default_power(kernel, n_features) if power is None else power
    k_alpha = power_kernel(kernel, float(alpha), n_features)
    if split_kernel == "kt+":
        # KT+ splits with k/‖k‖∞ + k_α/‖k_α‖∞; both radial kernels here have sup 1.
        return SumKernel([kernel, k_alpha])
    return k_alpha


def _points(X, what):
    X = check_points(X, "X", min_samples=1)
    if X.shape[0] < 2:
        raise ValueError(f"X must have at least 2 points to {what}; got n={X.shape[0]}.")
    return X


# -- public functions --------------------------------------------------------------
@validate_params(
    {"X": ["array-like"], "m": ROUNDS_CONSTRAINT, "unique": ["boolean"], **THINNING_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def kernel_thin(
    X,
    m="sqrt",
    *,
    kernel="gaussian",
    bandwidth=None,
    split_kernel="target",
    power=None,
    delta=0.5,
    swap=True,
    unique=True,
    random_state=None,
    verbose=0,
):
    """Kernel thinning (KT-SPLIT + KT-SWAP): indices of a coreset of n // 2^m points.

    KT-SPLIT halves the sample m times with the self-balancing Hilbert walk,
    giving 2^m candidate coresets that partition it; KT-SWAP keeps the
    candidate (or the standard-thinning coreset) nearest to the sample in MMD
    and greedily swaps each point for the one that lowers the MMD most.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The sample (NumPy or CuPy; float32 stays float32 in the kernel blocks).
    m : int or "sqrt", default="sqrt"
        Halving rounds; the coreset has ``n // 2**m`` points. ``"sqrt"`` picks
        the m for which that is closest to √n. At most ``floor(log2(n))``.
    kernel : str, Kernel or callable, default="gaussian"
        Target kernel (the MMD that KT-SWAP minimises).
    bandwidth : float or {"median", "scale"} or None, default=None
        Bandwidth of ``kernel`` (a rule is resolved on X). ``None``: the median
        rule for a kernel given by name, the object's own bandwidth otherwise.
    split_kernel : {"target", "root", "power", "kt+"}, default="target"
        Kernel of KT-SPLIT: the target k, its square root (power 1/2), its
        power ``power``, or KT+ (k + k_power, each of sup-norm one).
    power : float in [0.5, 1], default=None
        Power α of the "power" and "kt+" split kernels. ``None``: 1/2 where the
        square root exists (Gaussian), else the midpoint of the admissible
        range (d/(2ν + d), 1] for Laplacian/Matérn kernels.
    delta : float in (0, 1), default=0.5
        Failure probability of the walk's thresholds, shared between rounds as
        in goodpoints' compiled ``split_K`` (see the user guide).
    swap : bool, default=True
        Run KT-SWAP; without it, a uniformly chosen KT-SPLIT candidate is returned.
    unique : bool, default=True
        Forbid KT-SWAP from selecting a point twice (goodpoints' default allows it).
    random_state : int, Generator, RandomState or None, default=None
        An int seeds ``numpy.random.default_rng`` like goodpoints' ``seed``.
    verbose : int, default=0
        Show a progress bar.

    Returns
    -------
    indices : ndarray of shape (n // 2**m,)
        Row indices into X (sorted), unique when ``unique``.

    Notes
    -----
    Any n works: KT-SPLIT runs on 2^m·(n // 2^m) points and the remaining
    fewer-than-2^m points, drawn at random, sit out of the split only; KT-SWAP
    still measures the MMD to all n points and may pick any of them.
    goodpoints' ``kt.thin`` always leaves the last points out of the split.
    Time O(n²) kernel evaluations, memory O(n·d).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import kernel_thin, mmd
    >>> X = np.random.default_rng(0).normal(size=(256, 2))
    >>> idx = kernel_thin(X, kernel="gaussian", bandwidth=1.0, random_state=0)
    >>> idx.shape
    (16,)
    >>> bool(mmd(X, X[idx], "gaussian", bandwidth=1.0) < mmd(X, X[:16], "gaussian", bandwidth=1.0))
    True
    """
    # Host indices from the private twin (which kt_centers uses), placed where X lives.
    return to_device(
        get_namespace(X),
        _kernel_thin(
            X, m, kernel, bandwidth, split_kernel, power, delta, swap, unique, random_state,
            verbose,
        ),
    )  # fmt: skip


@validate_params(
    {
        "X": ["array-like"],
        "g": [Interval(numbers.Integral, 0, None, closed="left")],
        "size": [Interval(numbers.Integral, 1, None, closed="left"), None],
        **THINNING_CONSTRAINTS,
    },
    prefer_skip_nested_validation=True,
)
def compress_pp(
    X,
    g=4,
    *,
    kernel="gaussian",
    bandwidth=None,
    split_kernel="target",
    power=None,
    delta=0.5,
    size=None,
    swap=True,
    random_state=None,
    verbose=0,
):
    """Compress++: a √n-point kernel-thinning coreset in O(4^g·n·log n) kernel evaluations.

    Compress(g) splits a sample in four, compresses each quarter recursively
    and halves the concatenation with symmetrized one-round KT, leaving about
    2^g·√n points. As in goodpoints' ``compresspp_kt``, the sample's four
    consecutive bins are compressed separately (2^(g+1)·√n points in all) and
    kernel thinning with g + 1 rounds returns about √n.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The sample.
    g : int, default=4
        Oversampling parameter (g ≥ 0): larger is closer to full KT and slower
        (Shetty et al. advise g ≈ log₂log n; g = 4 matches KT's MMD here).
    kernel, bandwidth, split_kernel, power, delta, swap, random_state, verbose
        As in :func:`kernel_thin`. The failure probability δ is shared between
        Compress and the final thinning as in goodpoints.
    size : int, default=None
        Target coreset size (default √n); the final thinning uses the number of
        halving rounds that comes closest. Compress keeps at least 2^g·size points.

    Returns
    -------
    indices : ndarray
        Sorted unique row indices into X, about √n (or ``size``) of them.

    Notes
    -----
    For n = 4^k the procedure and its δ bookkeeping follow goodpoints'
    ``compresspp_kt`` (four bins). Other n are not
    cut down to a power of four (goodpoints standard-thins to the largest power
    of four, discarding up to 3/4 of the sample): quarters differ by at most one
    point and a Halve with an odd input leaves out one random point, so at most
    one point per Compress node is dropped.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import compress_pp
    >>> X = np.random.default_rng(0).normal(size=(1024, 2))
    >>> compress_pp(X, g=1, bandwidth=1.0, random_state=0).shape
    (32,)
    """
    return to_device(
        get_namespace(X),
        _compress_pp(
            X, g, kernel, bandwidth, split_kernel, power, delta, size, swap, random_state,
            verbose,
        ),
    )  # fmt: skip


def _kernel_thin(
    X, m, kernel, bandwidth, split_kernel, power, delta, swap, unique, random_state, verbose
):
    """:func:`kernel_thin` without the checks of its parameters; host indices."""
    X = _points(X, "thin")
    m = check_rounds(m, X.shape[0])
    rng = _generator(random_state)
    target = make_kernel(kernel, bandwidth, X=X)
    splitter = _make_split_kernel(target, split_kernel, power, X.shape[1])
    rows = _LazyRows.of(X, target)
    total = m + ((X.shape[0] >> m) if swap and m else 0)
    with progress(total=total, verbose=verbose, desc="kernel thinning") as bar:
        local = thin_node(
            rows, splitter, m, float(delta), rng, swap=bool(swap), unique=bool(unique), bar=bar
        )
    return np.sort(local)


def _compress_pp(
    X, g, kernel, bandwidth, split_kernel, power, delta, size, swap, random_state, verbose
):
    """:func:`compress_pp` without the checks of its parameters; host indices."""
    X = _points(X, "compress")
    n = X.shape[0]
    g = int(g)
    delta = float(delta)
    if size is None:
        size = max(1, int(round(math.sqrt(n))))
    elif size > n:
        raise ValueError(f"size must be an int in [1, n={n}]; got {size!r}.")
    rng = _generator(random_state)
    target = make_kernel(kernel, bandwidth, X=X)
    splitter = _make_split_kernel(target, split_kernel, power, X.shape[1])
    rows = _LazyRows.of(X, target)
    swap = bool(swap)
    # Compress must keep 2^g·size points: for √n that is 2^g·√n (Compress(g)'s output).
    g_eff = g + max(0, math.ceil(math.log2(size / math.sqrt(n))))
    # As goodpoints' compresspp_kt: four consecutive bins are compressed separately
    # and the final thinning does one more round (m = g + log₂√bins).
    bins = 4
    m_thin = g_eff + 1
    log2_sqrtn = math.log2(n) / 2.0
    nodes = np.arange(n, dtype=np.int64)
    thin_delta = delta
    if log2_sqrtn > m_thin:
        # goodpoints' split of δ between the Compress halvings and the final thinning.
        thin_frac = m_thin / (m_thin + 2**m_thin * (log2_sqrtn - m_thin))
        thin_delta = delta * thin_frac
        compress_delta = delta * (1.0 - thin_frac)
        parts = np.array_split(nodes, bins)
        n_halves = max(1, int(round(n / 4**g_eff)) // 3)
        with progress(total=n_halves, verbose=verbose, desc="Compress") as bar:
            outs = []
            for part in parts:
                levels = math.log2(part.shape[0]) / 2.0 - g_eff
                if levels <= 0:
                    outs.append(part)
                    continue
                halve_prob = compress_delta / 4 ** (g_eff + 1) / levels / n
                outs.append(compress(rows, part, g_eff, splitter, halve_prob, rng, swap, bar))
        nodes = np.concatenate(outs)
    rounds = max(0, int(round(math.log2(nodes.shape[0] / size))))
    rounds = min(rounds, int(math.floor(math.log2(nodes.shape[0]))))
    sub = rows if nodes.shape[0] == n else rows.subset(nodes)
    total = rounds + ((nodes.shape[0] >> rounds) if swap and rounds else 0)
    with progress(total=total, verbose=verbose, desc="kernel thinning") as bar:
        local = thin_node(sub, splitter, rounds, thin_delta, rng, swap=swap, bar=bar)
    return np.sort(nodes[local])


def kt_centers(X, n_centers, *, kernel, random_state=None):
    """Center selection for EigenPro's ``centers="kt"``: about n_centers KT indices.

    Up to 2^14 points, full kernel thinning with the number of halving rounds
    whose output n // 2^m is nearest to ``n_centers`` (so the result has between
    ~0.7× and ~1.4× n_centers points). Above, Compress++ (g = 2 plus what the
    size needs) to the same nearest feasible size, to stay near-linear.
    """
    X = check_points(X, "X", min_samples=2)
    n = X.shape[0]
    if isinstance(n_centers, bool) or not isinstance(n_centers, numbers.Integral):
        raise TypeError(f"n_centers must be an int; got {type(n_centers).__name__}.")
    if not 1 <= n_centers <= n:
        raise ValueError(f"n_centers must be in [1, {n}]; got {n_centers}.")
    if n_centers == n:
        return np.arange(n)
    if n <= 2**14:
        m = min(int(round(math.log2(n / n_centers))), int(math.log2(n)))
        return _kernel_thin(X, m, kernel, None, "target", None, 0.5, True, True, random_state, 0)
    return _compress_pp(X, 2, kernel, None, "target", None, 0.5, n_centers, True, random_state, 0)
