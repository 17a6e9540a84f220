"""Tile plans and the thread-pool runner behind :class:`~kernelkit.KernelOperator`.

Two rules make every product bounded and reproducible:

- Tile shapes, the number of row groups and the number of tiles alive at once
  come from the memory budget and the matrix shape alone (never from the core
  count or ``n_threads``), so the floating-point operations and their order
  are the same on every machine.
- Every output entry is owned by one task, which adds its terms in a fixed
  order; a transposed product that several tasks share goes through a fixed
  number of per-group accumulators added in group order at the end.
"""

from collections import namedtuple

from sklearn.utils import gen_batches

from .._backend import cpu, get_namespace
from ._budget import budget_bytes

# Tiles beyond ~32 MiB run the distance pass and the exp ~25% slower (cache).
_CACHE_FRIENDLY_TILE = 32 * 2**20
# The budget is shared by at most this many live tiles (one per worker), so a
# product never holds more than the budget whatever the number of threads.
_SLOTS = 16
# Rows per tile we keep even when that leaves fewer than _TARGET_TASKS tasks: a tile of
# fewer rows streams all of Z's columns through the distance GEMM for little work (35-row
# tiles of a 1111×60000 block ran 2.3× slower than 128-row ones, single-threaded).
_MIN_ROWS = 128
# Tasks a product is cut into (load balance for up to this many threads), as long as
# each keeps at least _MIN_TASK_VALUES values: smaller tasks cost more to hand to a
# thread than to compute (kernel thinning's many small nodes).
_TARGET_TASKS = 32
_MIN_TASK_VALUES = 2**16
# Share of the budget the per-group accumulators of a transposed product may take.
_ACCUMULATOR_SHARE = 4

_TilePlan = namedtuple("_TilePlan", ["rows", "cols", "max_live"])


# Products smaller than this many kernel values run on the calling thread.
_SERIAL_VALUES = 2**18


def plan_tiles(n, m, itemsize, *, full_width=False):
    """Tile shape for an n×m kernel matrix, from the budget and the shape alone.

    Parameters
    ----------
    n, m : int
        Shape of the kernel matrix.
    itemsize : int
        Bytes per value.
    full_width : bool, default=False
        Tiles span all ``m`` columns (products that use a row stripe twice).

    Returns
    -------
    plan : namedtuple
        ``rows`` and ``cols`` of a tile, and ``max_live``, the number of tiles
        (each with one temporary of its size) that fit the budget at once.
    """
    n, m = max(int(n), 1), max(int(m), 1)
    budget = budget_bytes()
    tile_bytes = max(1, min(budget // _SLOTS, _CACHE_FRIENDLY_TILE))
    values = max(1, tile_bytes // (2 * int(itemsize)))
    if full_width:
        cols = m
    else:
        cols = min(m, max(1, values // min(n, _MIN_ROWS)))
    rows = min(n, max(1, values // cols))
    rows = min(rows, max(_MIN_ROWS, -(-n // _TARGET_TASKS), -(-_MIN_TASK_VALUES // cols)))
    max_live = max(1, budget // (2 * int(itemsize) * rows * cols))
    return _TilePlan(rows, cols, max_live)


def batches(n, size):
    """``slice`` objects of at most ``size`` items covering ``range(n)`` (sklearn's gen_batches).

    Parameters
    ----------
    n : int
        Number of items.
    size : int
        Items per slice.

    Returns
    -------
    slices : list of slice
        Consecutive, in order; empty when ``n`` is 0.
    """
    return list(gen_batches(int(n), max(1, int(size))))


def row_groups(n_blocks, n_col_tiles, accumulator_bytes, *, per_column_tile=True):
    """Contiguous groups of row blocks, each summed into its own accumulator.

    The count depends on the shape and the budget only: enough groups for
    about ``_TARGET_TASKS`` tasks (a task is a group, or a group and a column
    tile when ``per_column_tile``), as many accumulators as fit a quarter of
    the budget, at least one.

    Parameters
    ----------
    n_blocks : int
        Row blocks of the product.
    n_col_tiles : int
        Column tiles of the product.
    accumulator_bytes : int
        Size of one accumulator.
    per_column_tile : bool, default=True
        Whether each column tile of a group is a task of its own.

    Returns
    -------
    groups : list of range
        Row block indices of each group, in order.
    """
    wanted = -(-_TARGET_TASKS // max(1, n_col_tiles)) if per_column_tile else _TARGET_TASKS
    fit = budget_bytes() // _ACCUMULATOR_SHARE // max(1, int(accumulator_bytes))
    count = max(1, min(n_blocks, wanted, fit))
    return [range(g * n_blocks // count, (g + 1) * n_blocks // count) for g in range(count)]


def run_tasks(function, tasks, workers, *, n_values):
    """``[function(t) for t in tasks]``, on ``workers`` pool threads when more than one.

    Parameters
    ----------
    function : callable
        Applied to each task; must release the GIL for threads to help.
    tasks : list
        Arguments, one per call.
    workers : int
        Threads to use; BLAS is limited to one thread meanwhile so that it
        does not start its own threads inside every worker.
    n_values : int
        Kernel values the tasks compute together. Below ``_SERIAL_VALUES`` the
        tasks run on the calling thread: waking the pool and scoping BLAS cost
        more than the work (kernel thinning makes thousands of such calls).
        The tasks and their order are the same either way, so are the results.

    Returns
    -------
    results : list
        In the order of ``tasks``.
    """
    workers = min(int(workers), len(tasks))
    if workers <= 1 or n_values < _SERIAL_VALUES:
        return [function(t) for t in tasks]
    with cpu.single_threaded_blas():
        return list(cpu.executor(workers).map(function, tasks))


def sweep_forward(op, V, engine, n_threads):
    """K @ V: each task owns a row block and adds its column tiles in order.

    Parameters
    ----------
    op : KernelOperator
        The operator; its ``_values(rows, cols, engine)`` computes a tile.
    V : array of shape (n_samples_Z, k)
        Right-hand sides, in the operator's dtype.
    engine : str
        Engine from :func:`kernelkit._backend.select_engine`.
    n_threads : int
        Threads allowed (fewer run when the budget holds fewer tiles).

    Returns
    -------
    KV : array of shape (n_samples_X, k)
        The product.
    """
    n, m = op.shape
    xp = get_namespace(op.X, V)
    plan = plan_tiles(n, m, op.dtype.itemsize)
    col_tiles = batches(m, plan.cols)
    out = xp.empty((n, V.shape[1]), dtype=op.dtype)

    def work(rs):
        out[rs] = 0
        for cs in col_tiles:
            out[rs] += op._values(rs, cs, engine) @ V[cs]

    run_tasks(work, batches(n, plan.rows), min(n_threads, plan.max_live), n_values=n * m)
    return out


def sweep_transposed(op, U, engine, n_threads):
    """Kᵀ @ U: tasks are (row group, column tile); groups sum into their accumulators.

    Parameters
    ----------
    op : KernelOperator
        The operator; its ``_values(rows, cols, engine)`` computes a tile.
    U : array of shape (n_samples_X, k)
        Right-hand sides, in the operator's dtype.
    engine : str
        Engine from :func:`kernelkit._backend.select_engine`.
    n_threads : int
        Threads allowed (fewer run when the budget holds fewer tiles).

    Returns
    -------
    KtU : array of shape (n_samples_Z, k)
        The product.
    """
    n, m = op.shape
    xp = get_namespace(op.X, U)
    plan = plan_tiles(n, m, op.dtype.itemsize)
    row_blocks = batches(n, plan.rows)
    col_tiles = batches(m, plan.cols)
    k = U.shape[1]
    groups = row_groups(len(row_blocks), len(col_tiles), m * k * op.dtype.itemsize)
    accs = [xp.zeros((m, k), dtype=op.dtype) for _ in groups]

    def work(task):
        g, cs = task
        target = accs[g][cs]
        for b in groups[g]:
            rs = row_blocks[b]
            target += op._values(rs, cs, engine).T @ U[rs]

    tasks = [(g, cs) for g in range(len(groups)) for cs in col_tiles]
    run_tasks(work, tasks, min(n_threads, plan.max_live), n_values=n * m)
    return _add_in_order(accs)


def sweep_both(op, V, U):
    """(K @ V, Kᵀ @ U): tasks are row groups; each tile serves both products.

    Parameters
    ----------
    op : KernelOperator
        The operator.
    V : array of shape (n_samples_Z, k1)
        Multiplied by K.
    U : array of shape (n_samples_X, k2)
        Multiplied by Kᵀ.

    Returns
    -------
    KV : array of shape (n_samples_X, k1)
        K @ V.
    KtU : array of shape (n_samples_Z, k2)
        Kᵀ @ U.
    """
    engine, n_threads = op._engine_and_workers(V, U)
    n, m = op.shape
    xp = get_namespace(op.X, V, U)
    plan = plan_tiles(n, m, op.dtype.itemsize)
    row_blocks = batches(n, plan.rows)
    col_tiles = batches(m, plan.cols)
    groups = row_groups(
        len(row_blocks),
        len(col_tiles),
        m * U.shape[1] * op.dtype.itemsize,
        per_column_tile=False,
    )
    KV = xp.empty((n, V.shape[1]), dtype=op.dtype)
    accs = [xp.zeros((m, U.shape[1]), dtype=op.dtype) for _ in groups]

    def work(g):
        for b in groups[g]:
            rs = row_blocks[b]
            KV[rs] = 0
            for cs in col_tiles:
                T = op._values(rs, cs, engine)
                KV[rs] += T @ V[cs]
                accs[g][cs] += T.T @ U[rs]

    run_tasks(work, list(range(len(groups))), min(n_threads, plan.max_live), n_values=n * m)
    return KV, _add_in_order(accs)


def sweep_dmmv(op, V, W):
    """Kᵀ(K V + W) over full-width row stripes, per-group accumulators.

    Parameters
    ----------
    op : KernelOperator
        The operator.
    V : array of shape (n_samples_Z, k)
        Multiplied by K.
    W : array of shape (n_samples_X, k) or None
        Added to K V before the transposed product.

    Returns
    -------
    out : array of shape (n_samples_Z, k)
        Kᵀ(K V + W).
    """
    engine, n_threads = op._engine_and_workers(V, W)
    n, m = op.shape
    xp = get_namespace(op.X, V)
    plan = plan_tiles(n, m, op.dtype.itemsize, full_width=True)
    row_blocks = batches(n, plan.rows)
    k = V.shape[1]
    groups = row_groups(len(row_blocks), 1, m * k * op.dtype.itemsize, per_column_tile=False)
    accs = [xp.zeros((m, k), dtype=op.dtype) for _ in groups]
    everything = slice(0, m)

    def work(g):
        for b in groups[g]:
            rs = row_blocks[b]
            T = op._values(rs, everything, engine)
            inner = T @ V
            if W is not None:
                inner += W[rs]
            accs[g] += T.T @ inner

    run_tasks(work, list(range(len(groups))), min(n_threads, plan.max_live), n_values=n * m)
    return _add_in_order(accs)


def _add_in_order(parts):
    """parts[0] + parts[1] + ... in list order (never in completion order)."""
    out = parts[0]
    for part in parts[1:]:
        out += part
    return out
