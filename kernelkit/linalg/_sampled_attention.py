"""Softmax attention through two sampled Gaussian kernel products.

Lemma 4.1 of Indyk, Kapralov, Sheth and Wagner (ICLR 2025) reduces the
attention matrix exp(Q K^T) to a Gaussian kernel matrix by diagonal scalings
that do not depend on the vector:

    exp(q . k) = exp(||q||^2 / 2) exp(||k||^2 / 2) exp(-||q - k||^2 / 2).

The query factor cancels between numerator and denominator of the softmax,
so softmax(Q K^T) V = (G (a * V)) / (G a) row by row, with G the Gaussian
kernel of bandwidth 1 between queries and keys and a_j = exp(||k_j||^2 / 2).
"""

import numbers

import numpy as np

from .._utils._device import to_device, to_host
from .._utils._sklearn_compat import Interval, StrOptions, validate_params
from .._utils._validation import check_points, check_same_features
from ._sampled import TO_HOST, SampledGaussianOperator


@validate_params(
    {
        "Q": ["array-like"],
        "K": ["array-like"],
        "V": ["array-like"],
        "eps": [Interval(numbers.Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
        "delta": [Interval(numbers.Real, 0, 1, closed="neither")],
        "fallback": [StrOptions({"warn", "exact", "raise", "never"})],
    },
    prefer_skip_nested_validation=True,
)
def softmax_attention(Q, K, V, eps=0.1, random_state=None, *, delta=0.01, fallback="warn"):
    """softmax(Q Kᵀ) V from two sampled Gaussian products (Lemma 4.1 of Indyk et al.).

    Numerator G (a ∘ V) and denominator G a are computed together by
    :class:`SampledGaussianOperator` (bandwidth 1), each column within
    ``eps`` times its norm with probability ``1 - delta``. The error of a row
    of the output is that of its numerator and denominator relative to the
    denominator, so rows whose attention mass is small relative to the
    column norm of ``a`` are the least accurate. Rows whose sampled
    denominator is not positive are recomputed exactly.

    Parameters
    ----------
    Q : array-like of shape (n_queries, n_features)
        Queries (already scaled, e.g. by d^(-1/4), as the model does).
    K : array-like of shape (n_keys, n_features)
        Keys.
    V : array-like of shape (n_keys,) or (n_keys, n_values)
        Values.
    eps : float, default=0.1
        Relative l2 error of each Gaussian product.
    random_state : int, RandomState instance or None, default=None
        Seeds the sampler.
    delta : float, default=0.01
        Failure probability of each product.
    fallback : {"warn", "exact", "raise", "never"}, default="warn"
        Passed to :class:`SampledGaussianOperator`.

    Returns
    -------
    out : ndarray of shape (n_queries,) or (n_queries, n_values)
        The attention output.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.special import softmax
    >>> from kernelkit import softmax_attention
    >>> rng = np.random.default_rng(0)
    >>> K = rng.normal(size=(300, 8))
    >>> Q = K[rng.integers(0, 300, size=200)] + 0.1 * rng.normal(size=(200, 8))
    >>> V = rng.normal(size=(300, 2))
    >>> out = softmax_attention(Q, K, V, eps=0.05, random_state=0, fallback="exact")
    >>> bool(np.allclose(out, softmax(Q @ K.T, axis=1) @ V))
    True
    """
    # The sampled operator runs on the host: CuPy inputs cross once, the output goes back.
    xp, (Q, K, V) = to_host(TO_HOST, Q, K, V)
    Q = check_points(Q, "Q")
    K = check_points(K, "K")
    check_same_features(Q, K, "Q", "K")
    V = np.asarray(V)
    one = V.ndim == 1
    V2 = V.reshape(-1, 1) if one else V
    if V2.ndim != 2 or V2.shape[0] != K.shape[0]:
        raise ValueError(f"V must have {K.shape[0]} rows (one per key); got shape {V.shape}.")
    if not np.isfinite(V2).all():
        raise ValueError("V contains NaN or infinity.")
    op = SampledGaussianOperator(
        Q, K, bandwidth=1.0, eps=eps, delta=delta, fallback=fallback, random_state=random_state
    )
    half_sq = 0.5 * np.einsum("ij,ij->i", K, K, dtype=np.float64)
    # Shifting by the largest exponent cancels in the ratio and avoids overflow.
    a = np.exp(half_sq - half_sq.max())
    W = np.column_stack([a[:, None] * V2, a]).astype(op.dtype)
    Y = op.matmat(W)
    num, den = Y[:, :-1], Y[:, -1]
    bad = np.flatnonzero(~(den > 0))
    if len(bad):
        exact = op._base.take(bad, None) @ W
        num[bad], den[bad] = exact[:, :-1], exact[:, -1]
    out = num / den[:, None]
    return to_device(xp, out[:, 0] if one else out)
