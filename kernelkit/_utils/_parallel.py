"""Parallel building blocks: a config-carrying ``delayed``, a joblib map and merge-tree reductions.

:func:`tree_reduce` merges given items up a balanced binary tree;
:func:`tree_map_reduce` also computes the leaves, and runs whole subtrees per
task so that many small leaves do not each pay a task's overhead.

Everything here runs through joblib, so ``joblib.parallel_config(backend="dask")``
moves the work onto a Dask cluster without any code in kernelkit knowing about
Dask. Results never depend on the number of workers: the shape of a merge tree
is fixed by the number of leaves alone, and every task that draws random
numbers receives its own child of one :class:`numpy.random.SeedSequence`,
numbered by its position in the tree rather than by when it happens to run.
"""

import numbers

import joblib
import numpy as np
from joblib import Parallel, effective_n_jobs
from sklearn.utils import check_random_state

from .._config import config_context, get_config
from ._progress import progress


class _WithConfig:
    """``function`` run under the kernelkit configuration captured when the task was made."""

    def __init__(self, function, config):
        self.function = function
        self.config = config

    def __call__(self, *args, **kwargs):
        config = dict(self.config)
        if config["n_threads"] is None:  # None in config_context means "unchanged"
            config["n_threads"] = -1
        with config_context(**config):
            return self.function(*args, **kwargs)


def carry_config(function):
    """``function`` wrapped to run under the kernelkit configuration in force now.

    For task graphs built here and run elsewhere (Dask), where :func:`delayed`
    does not apply.

    Parameters
    ----------
    function : callable
        Picklable callable.

    Returns
    -------
    wrapped : callable
        Picklable; calls ``function`` inside :func:`kernelkit.config_context`
        with the captured settings.

    Examples
    --------
    >>> from kernelkit import config_context, get_config
    >>> from kernelkit._utils._parallel import carry_config
    >>> with config_context(engine="numpy"):
    ...     engine = carry_config(lambda: get_config()["engine"])
    >>> engine()
    'numpy'
    """
    return _WithConfig(function, get_config())


def delayed(function):
    """:func:`joblib.delayed` that carries the caller's kernelkit configuration to the worker.

    The configuration is thread-local and a joblib worker (thread, process or
    Dask task) starts from the defaults; like :func:`sklearn.utils.parallel.delayed`,
    this captures :func:`kernelkit.get_config` when the task is created and
    applies it with :func:`kernelkit.config_context` around the call. Create
    the tasks in the caller's thread (a list, not a lazy generator that joblib
    may consume on another thread).

    Parameters
    ----------
    function : callable
        The function to run in the worker.

    Returns
    -------
    make_task : callable
        ``make_task(*args, **kwargs)`` returns joblib's ``(function, args, kwargs)`` triple.

    Examples
    --------
    >>> from joblib import Parallel
    >>> from kernelkit import config_context, get_config
    >>> from kernelkit._utils._parallel import delayed
    >>> def engine(_):
    ...     return get_config()["engine"]
    >>> with config_context(engine="numpy"):
    ...     tasks = [delayed(engine)(i) for i in range(2)]
    >>> Parallel(n_jobs=2, backend="threading")(tasks)
    ['numpy', 'numpy']
    """

    def make_task(*args, **kwargs):
        return joblib.delayed(carry_config(function))(*args, **kwargs)

    return make_task


def seed_sequence(random_state):
    """A :class:`numpy.random.SeedSequence` derived from a scikit-learn ``random_state``.

    An integer seeds the sequence directly (so the same integer always gives
    the same tree of child seeds); ``None`` or a ``RandomState`` contributes
    128 bits of entropy drawn from it.

    Parameters
    ----------
    random_state : int, RandomState, SeedSequence or None
        The caller's ``random_state``; a ``SeedSequence`` is returned as is.

    Returns
    -------
    seeds : numpy.random.SeedSequence
        Parent of the per-task seeds.

    Examples
    --------
    >>> from kernelkit._utils._parallel import seed_sequence
    >>> seed_sequence(3).entropy
    3
    """
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.SeedSequence(int(random_state))
    rng = check_random_state(random_state)
    entropy = [int(v) for v in rng.randint(0, 2**32, size=4, dtype=np.uint64)]
    return np.random.SeedSequence(entropy)


def parallel_map(function, items, *, n_jobs=None, verbose=0, desc=None):
    """``[function(item) for item in items]`` on joblib workers, in input order.

    ``n_jobs=None`` follows joblib's context (one worker unless a
    ``parallel_config`` says otherwise); under the Dask backend the tasks
    run on the cluster. Tasks carry the caller's kernelkit configuration.

    Parameters
    ----------
    function : callable
        Applied to each item; must be picklable for process-based backends.
    items : iterable
        Arguments, one per call.
    n_jobs : int, default=None
        joblib workers.
    verbose : int, default=0
        ``1`` shows a progress bar.
    desc : str, default=None
        Label of the progress bar.

    Returns
    -------
    results : list
        ``function(item)`` for each item, in input order.

    Examples
    --------
    >>> from kernelkit._utils._parallel import parallel_map
    >>> parallel_map(abs, [-1, 2, -3], n_jobs=1)
    [1, 2, 3]
    """
    items = list(items)
    if not items:
        return []
    bar = progress(total=len(items), verbose=verbose, desc=desc)
    out = []
    # return_as="generator" keeps input order and lets the bar advance as results arrive.
    tasks = [delayed(function)(item) for item in items]  # made here: they carry our config
    for result in Parallel(n_jobs=n_jobs, return_as="generator")(tasks):
        out.append(result)
        bar.update(1)
    bar.close()
    return out


def tree_reduce(items, merge, *, seeds, n_jobs=None, verbose=0, desc=None):
    """Reduce ``items`` pairwise up a balanced binary tree: ``merge(a, b, seed) -> c``.

    Level by level, items ``(0, 1), (2, 3), ...`` are merged in parallel; an
    odd item out moves up unchanged. The tree, and the seed each merge gets,
    depend only on ``len(items)``: merge number ``j`` (counted level by level,
    left to right) receives ``seeds.spawn(len(items) - 1)[j]``. Hence the
    result is the same for any ``n_jobs`` and any backend.

    Parameters
    ----------
    items : list
        Leaves of the tree (at least one).
    merge : callable
        ``merge(left, right, seed)`` with ``seed`` a ``SeedSequence``; it
        must be picklable for process-based backends.
    seeds : numpy.random.SeedSequence
        Parent of the per-merge seeds.
    n_jobs : int or None
        joblib workers per level.
    verbose : int, default=0
        ``1`` shows a progress bar over the levels.
    desc : str, default=None
        Label of the progress bar.

    Returns
    -------
    root : object
        The value at the top of the tree.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit._utils._parallel import tree_reduce
    >>> tree_reduce([1, 2, 3, 4, 5], lambda a, b, s: a + b, seeds=np.random.SeedSequence(0))
    15
    """
    items = list(items)
    if not items:
        raise ValueError("tree_reduce needs at least one item.")
    children = iter(seeds.spawn(max(len(items) - 1, 0)))
    depth = int(np.ceil(np.log2(len(items)))) if len(items) > 1 else 0
    bar = progress(total=depth, verbose=verbose, desc=desc, unit="level")
    while len(items) > 1:
        pairs = [(items[i], items[i + 1], next(children)) for i in range(0, len(items) - 1, 2)]
        carry = [items[-1]] if len(items) % 2 else []
        if len(pairs) == 1:
            merged = [merge(*pairs[0])]
        else:
            merged = Parallel(n_jobs=n_jobs)([delayed(merge)(a, b, s) for a, b, s in pairs])
        items = list(merged) + carry
        bar.update(1)
    bar.close()
    return items[0]


def _merge_plan(n_leaves, seeds):
    """The merge tree of :func:`tree_reduce` as data.

    Returns ``(levels, merges)``: ``levels[k]`` lists the node ids present at
    level k (ids < n_leaves are leaves), ``merges[id] = (left, right, seed)``.
    Merges are numbered, and receive seeds, level by level and left to right.
    """
    children = iter(seeds.spawn(max(n_leaves - 1, 0)))
    level = list(range(n_leaves))
    levels = [level]
    merges = {}
    next_id = n_leaves
    while len(level) > 1:
        upper = []
        for i in range(0, len(level) - 1, 2):
            merges[next_id] = (level[i], level[i + 1], next(children))
            upper.append(next_id)
            next_id += 1
        if len(level) % 2:
            upper.append(level[-1])
        level = upper
        levels.append(level)
    return levels, merges


def _subtree_plan(root, merges, n_leaves):
    """Leaves (in order) and merges (children first) of the subtree under ``root``."""
    if root < n_leaves:
        return [root], []
    left, right, seed = merges[root]
    leaves_l, merges_l = _subtree_plan(left, merges, n_leaves)
    leaves_r, merges_r = _subtree_plan(right, merges, n_leaves)
    return leaves_l + leaves_r, merges_l + merges_r + [(root, left, right, seed)]


def _run_subtree(leaf_ids, leaf_items, merge_steps, leaf_function, merge):
    """Evaluate one subtree in this process: its leaves, then its merges bottom-up."""
    values = {i: leaf_function(item) for i, item in zip(leaf_ids, leaf_items, strict=True)}
    for node, left, right, seed in merge_steps:
        values[node] = merge(values.pop(left), values.pop(right), seed)
    (result,) = values.values()
    return result


def tree_map_reduce(
    leaf_function, items, merge, *, seeds, n_jobs=None, verbose=0, desc=None, tasks_per_job=4
):
    """``tree_reduce([leaf_function(x) for x in items], merge, seeds=seeds)``, in coarse tasks.

    The result is exactly that of the two-step form (same tree, same seed per
    merge), but the bottom of the tree is cut into about ``tasks_per_job``
    subtrees per worker, each evaluated in one task, so that many small leaves
    do not each pay a task's scheduling and transfer cost. The few merges above
    the cut run level by level in parallel.

    Parameters
    ----------
    leaf_function : callable
        Computes a leaf from an item; picklable for process-based backends.
    items : list
        Inputs of the leaves (at least one).
    merge : callable
        ``merge(left, right, seed)``, as in :func:`tree_reduce`.
    seeds : numpy.random.SeedSequence
        Parent of the per-merge seeds.
    n_jobs : int, default=None
        joblib workers.
    verbose : int, default=0
        ``1`` shows a progress bar.
    desc : str, default=None
        Label of the progress bar.
    tasks_per_job : int, default=4
        Subtrees per worker at the cut (more: better balance, more overhead).

    Returns
    -------
    root : object
        The value at the top of the tree.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit._utils._parallel import tree_map_reduce
    >>> tree_map_reduce(abs, [-1, 2, -3, 4, -5], lambda a, b, s: a + b,
    ...                 seeds=np.random.SeedSequence(0), n_jobs=1)
    15
    """
    items = list(items)
    if not items:
        raise ValueError("tree_map_reduce needs at least one item.")
    n = len(items)
    levels, merges = _merge_plan(n, seeds)
    target = max(1, tasks_per_job * effective_n_jobs(n_jobs))
    cut = next(k for k, level in enumerate(levels) if len(level) <= target)
    plans = [_subtree_plan(root, merges, n) for root in levels[cut]]
    bar = progress(total=len(plans) + len(levels) - 1 - cut, verbose=verbose, desc=desc)
    values = {}
    runner = Parallel(n_jobs=n_jobs, return_as="generator")
    jobs = [
        delayed(_run_subtree)(ids, [items[i] for i in ids], steps, leaf_function, merge)
        for ids, steps in plans
    ]
    for root, value in zip(levels[cut], runner(jobs), strict=True):
        values[root] = value
        bar.update(1)
    for level in levels[cut + 1 :]:
        todo = [node for node in level if node not in values]
        pairs = [(node, merges[node]) for node in todo]
        if len(pairs) == 1:
            node, (left, right, seed) = pairs[0]
            results = [merge(values[left], values[right], seed)]
        else:
            results = Parallel(n_jobs=n_jobs)(
                [
                    delayed(merge)(values[left], values[right], seed)
                    for _, (left, right, seed) in pairs
                ]
            )
        for (node, (left, right, _)), value in zip(pairs, results, strict=True):
            del values[left], values[right]
            values[node] = value
        bar.update(1)
    bar.close()
    return values[levels[-1][0]]
