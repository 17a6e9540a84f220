"""Progress reporting: a tqdm bar when ``verbose >= 1``, nothing otherwise."""

from tqdm.auto import tqdm


def progress(iterable=None, *, total=None, verbose=0, desc=None, unit="it", leave=True):
    """Wrap ``iterable`` in a tqdm bar that is silent unless ``verbose`` is truthy.

    Estimators call ``bar.set_postfix(loss=...)`` on the returned object; with
    ``verbose=0`` it is a disabled bar, so callers need no branches.
    """
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        leave=leave,
        disable=not verbose,
        dynamic_ncols=True,
    )
