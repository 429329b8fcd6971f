"""Gunther's Universal Scalability Law, fitted by least squares.

    X(N) = lam N / (1 + sigma (N - 1) + kappa N (N - 1))

sigma is contention (serialised work), kappa coherency (crosstalk), lam the
throughput of one unit. Dividing through gives N / X = a + b (N - 1) + c N (N - 1),
linear in a = 1/lam, b = sigma/lam, c = kappa/lam, solved here by the normal
equations (no numpy). Throughput peaks at N* = sqrt((1 - sigma) / kappa).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class UslFit:
    sigma: float
    kappa: float
    lam: float
    n_star: float | None
    r2: float

    def throughput(self, n: float) -> float:
        return self.lam * n / (1 + self.sigma * (n - 1) + self.kappa * n * (n - 1))


def fit(ns: Sequence[float], xs: Sequence[float]) -> UslFit:
    """Fit sigma, kappa, lam to throughputs ``xs`` measured at concurrencies ``ns``."""
    points = [(n, x) for n, x in zip(ns, xs, strict=True) if n > 0 and x > 0]
    if len(points) < 3:
        raise ValueError("the USL needs at least three measurements")
    rows = [(1.0, n - 1, n * (n - 1)) for n, _x in points]
    ys = [n / x for n, x in points]
    a, b, c = _solve_nonnegative(rows, ys)
    lam = 1 / a
    sigma, kappa = b / a, c / a
    n_star = math.sqrt((1 - sigma) / kappa) if kappa > 0 and sigma < 1 else None
    made = UslFit(sigma, kappa, lam, n_star, 0.0)
    return UslFit(sigma, kappa, lam, n_star, _r2(made, points))


def _solve_nonnegative(
    rows: list[tuple[float, float, float]], ys: list[float]
) -> tuple[float, float, float]:
    """Least squares with b, c ≥ 0: drop a term that comes out negative."""
    for keep in ((0, 1, 2), (0, 2), (0, 1), (0,)):
        solved = _lstsq([[r[i] for i in keep] for r in rows], ys)
        if solved is not None and all(v >= 0 for v in solved[1:]) and solved[0] > 0:
            full = [0.0, 0.0, 0.0]
            for i, v in zip(keep, solved, strict=True):
                full[i] = v
            return full[0], full[1], full[2]
    return sum(ys) / len(ys), 0.0, 0.0


def _lstsq(a: list[list[float]], y: list[float]) -> list[float] | None:
    k = len(a[0])
    ata = [[sum(r[i] * r[j] for r in a) for j in range(k)] for i in range(k)]
    aty = [sum(r[i] * v for r, v in zip(a, y, strict=True)) for i in range(k)]
    return _gauss(ata, aty)


def _gauss(m: list[list[float]], v: list[float]) -> list[float] | None:
    n = len(v)
    aug = [[*row, val] for row, val in zip(m, v, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(aug[r][col]))
        if abs(aug[pivot][col]) < 1e-12:
            return None
        aug[col], aug[pivot] = aug[pivot], aug[col]
        for r in range(n):
            if r != col:
                f = aug[r][col] / aug[col][col]
                aug[r] = [x - f * y for x, y in zip(aug[r], aug[col], strict=True)]
    return [aug[i][n] / aug[i][i] for i in range(n)]


def _r2(model: UslFit, points: list[tuple[float, float]]) -> float:
    mean = sum(x for _n, x in points) / len(points)
    total = sum((x - mean) ** 2 for _n, x in points)
    resid = sum((x - model.throughput(n)) ** 2 for n, x in points)
    return 1 - resid / total if total else 1.0
