"""One EigenPro epoch: the batch loop, delayed projections and the divergence guard.

A mixin of the EigenPro estimators (see ``_eigenpro_base`` for the model and
the divergence policy). State of one pass (temporary centers, the pending
gradient H at the centers) lives in a dict made
by ``_pass_state`` so that a pass that is undone leaves nothing behind.
"""

import numpy as np

from .._backend import get_namespace
from ..linalg import KernelOperator
from ._eigenpro_precond import ep2_update, nystrom_correction

# A pass is abandoned as soon as its running loss exceeds this many times its reference.
_BLOW_UP = 100.0
# Consecutive failed passes (each halving the step) before the fit gives up.
_MAX_HALVINGS = 10
# Relative growth of an epoch's loss that is SGD noise near the optimum, or an automatic
# step slightly too large for the data (one halving fixes it), rather than divergence.
_PLATEAU = 1.0
# Training rows on which the loss is measured exactly after each epoch.
_MONITOR = 2000


class _Diverged(Exception):
    """Raised inside a pass when the loss is no longer finite or has blown up."""


def weighted_loss(R, w):
    """Σ w·r² over rows (w None: unit weights)."""
    sq = (R * R).sum(axis=1)
    return float(sq.sum() if w is None else (w.astype(sq.dtype, copy=False) * sq).sum())


def monitor_rows(n):
    """Rows on which the training loss is measured exactly after each epoch.

    All rows up to ``_MONITOR`` of them, else a fixed uniform sample of that size
    (seeded by n alone, so that ``fit`` and repeated ``partial_fit`` on the same
    data measure the same rows).
    """
    if n <= _MONITOR:
        return np.arange(n)
    return np.sort(np.random.default_rng(n).choice(n, size=_MONITOR, replace=False))


class _EigenProPasses:
    """The epoch pass of the EigenPro estimators (a mixin; not public)."""

    def _monitored_residual(self, monitor, alpha):
        """f(X) − Y of α on the monitor rows (None when α is no longer finite)."""
        X, Y, _ = monitor
        if not bool(get_namespace(alpha).isfinite(alpha).all()):
            return None
        with np.errstate(over="ignore", invalid="ignore"):
            return self._decision(X, alpha) - Y

    def _monitored_loss(self, monitor, alpha, R=None):
        """Exact (weighted) mean squared training residual of α on the monitor rows."""
        _, Y, w = monitor
        R = self._monitored_residual(monitor, alpha) if R is None else R
        if R is None:
            return np.inf
        with np.errstate(over="ignore", invalid="ignore"):
            loss = weighted_loss(R, w)
        return loss / (float(Y.shape[0] if w is None else w.sum()) * Y.shape[1])

    def _line_search(self, monitor, start, alpha):
        """Move α to the best point of the segment [start, α] for the monitored loss.

        The monitored residual is affine in α, so the loss along the segment is a
        quadratic whose minimiser t* is exact; t* ∈ [0, 1] and its loss is at most the
        start's. Returns that loss.
        """
        _, _, w = monitor
        R0 = self._monitored_residual(monitor, start)
        D = self._monitored_residual(monitor, alpha) - R0
        ww = 1.0 if w is None else w[:, None]
        den = float((ww * D * D).sum())
        t = 0.0 if den <= 0 else min(max(-float((ww * R0 * D).sum()) / den, 0.0), 1.0)
        alpha -= start
        alpha *= alpha.dtype.type(t)
        alpha += start
        return min(
            self._monitored_loss(monitor, alpha, R0 + alpha.dtype.type(t) * D),
            self._monitored_loss(monitor, start, R0),
        )

    def _guarded_pass(self, X, Y, w, alpha, rng, bar, epoch, monitor, reference):
        """Run a pass, undoing it and halving the step while the loss grows; return the loss.

        ``reference`` is the monitored loss of the model before the pass; the model
        after the pass must not exceed it. Growth of at most ``_PLATEAU`` (or within
        √eps of the model's loss scale, i.e. rounding) is SGD noise near the optimum
        or a step slightly too large, not divergence: the step is halved without a
        warning and the model moves to the best point between the pass's start and end
        (exact line search of the monitored loss, never above the start's).
        """
        slack = np.sqrt(np.finfo(alpha.dtype).eps) * self._loss_scale
        start = alpha.copy()
        for failures in range(_MAX_HALVINGS + 1):
            try:
                # Overflow is detected (and undone) here, so NumPy need not warn about it.
                with np.errstate(over="ignore", invalid="ignore"):
                    self._pass(X, Y, w, alpha, rng, bar, epoch, _BLOW_UP * (reference + slack))
                loss = self._monitored_loss(monitor, alpha)
            except _Diverged:
                loss = np.inf
            if loss <= reference:
                return loss
            mild = np.isfinite(loss) and loss <= (1.0 + _PLATEAU) * reference + slack
            if failures < _MAX_HALVINGS:
                self._set_step(self.step_size_ / 2.0)
            if mild:
                # Noise or a step a little too large: keep the best model between the start
                # and the end of the pass, and continue with the smaller step.
                loss = self._line_search(monitor, start, alpha)
                if loss <= reference:
                    return loss
            alpha[...] = start
            if failures == _MAX_HALVINGS:
                break
            if mild:
                return reference
            self._halvings += 1
            self._halved_at.append((epoch, loss, reference))
        raise FloatingPointError(
            f"EigenPro diverged in epoch {epoch}: the training loss grew (or became NaN or "
            f"infinite) even after the step was halved {_MAX_HALVINGS} times in a row "
            f"(step_scale={self.step_scale}, per-sample step now {self._step:.3g}). Lower "
            "`step_scale` further, or check `kernel`/`bandwidth`: a kernel that is not "
            "positive definite, or a bandwidth far from the data's scale, breaks the "
            "automatic step size."
        )

    # -- one pass over (X, Y) ----------------------------------------------------
    def _pass(self, X, Y, w, alpha, rng, bar, epoch, limit):
        """One epoch of EigenPro over (X, Y), updating ``alpha`` in place; returns the loss.

        The loss is the weighted mean squared residual seen during the pass (each
        batch before its update), per output. Raises ``_Diverged`` as soon as a
        residual is not finite or the running loss exceeds ``limit``.
        """
        xp = get_namespace(X)
        n = X.shape[0]
        m = self.batch_size_
        step = X.dtype.type(self._step)
        order = rng.permutation(n)
        total = float(n if w is None else w.sum()) * Y.shape[1]
        state = self._pass_state(X, alpha)
        loss, seen = 0.0, 0.0
        for start in range(0, n, m):
            idx = np.sort(order[start : start + m])
            idx_x = idx if xp is np else xp.asarray(idx)
            g, blocks = self._residual(state, idx_x, alpha)
            g -= Y[idx_x]
            wb = None if w is None else w[idx_x]
            batch = weighted_loss(g, wb)
            loss += batch
            seen += (len(idx) if wb is None else float(wb.sum())) * Y.shape[1]
            if not np.isfinite(batch) or loss > limit * max(seen, 1e-300):
                raise _Diverged(epoch)
            if wb is not None:
                g *= wb[:, None].astype(g.dtype, copy=False)
            self._update(state, idx_x, g, blocks, alpha, step)
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{loss / max(seen, 1e-300):.4g}")
        self._flush(state, alpha, step, epoch)
        return loss / total

    def _pass_state(self, X, alpha):
        xp = get_namespace(X)
        state = {
            "op": KernelOperator(self.kernel_, X, self.centers_),
            "sample": self._sample if xp is np else xp.asarray(self._sample),
        }
        if not self._all_points:
            T = self.projection_interval_
            state["op_xx"] = KernelOperator(self.kernel_, X)
            state["tmp_idx"] = []
            state["tmp_W"] = xp.empty((T * self.batch_size_, alpha.shape[1]), dtype=X.dtype)
            state["H"] = xp.zeros_like(alpha)
        return state

    def _residual(self, state, idx, alpha):
        """f(X_b) under the current model (with pending temporary centers) and K(X_b, Z)."""
        Kb = state["op"].take(rows=idx).to_dense()
        g = Kb @ alpha
        if not self._all_points and state["tmp_idx"]:
            # The batches since the last projection are temporary centers with weights tmp_W.
            xp = get_namespace(alpha)
            tmp = xp.concatenate(state["tmp_idx"])
            op = state["op_xx"].take(rows=idx, cols=tmp)
            g += op.matmat(state["tmp_W"][: tmp.shape[0]])
        return g, Kb

    def _update(self, state, idx, g, Kb, alpha, step):
        if self._all_points:
            ep2_update(alpha, idx, Kb, g, state["sample"], self._precond, step)
            return
        # The Nyström correction lives on centers and goes straight into α; the SGD part
        # becomes temporary centers until the next projection.
        nystrom_correction(alpha, Kb, g, state["sample"], self._precond, step)
        state["H"] += Kb.T @ g
        filled = sum(len(i) for i in state["tmp_idx"])
        state["tmp_W"][filled : filled + g.shape[0]] = -step * g
        state["tmp_idx"].append(idx)
        if len(state["tmp_idx"]) == self.projection_interval_:
            self._flush(state, alpha, step, None)

    def _flush(self, state, alpha, step, epoch):
        """Project the pending temporary centers onto the centers: α ← α − step·K(Z, Z)⁻¹·H."""
        if self._all_points or not state["tmp_idx"]:
            return
        theta = self._projector.solve(state["H"])
        xp = get_namespace(theta)
        if not bool(xp.isfinite(theta).all()):
            raise _Diverged(epoch)
        alpha -= step * theta
        state["H"][...] = 0
        state["tmp_idx"].clear()
