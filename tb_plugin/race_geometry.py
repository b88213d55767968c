"""Pure numpy geometry of the Optimizer Race page: LTTB downsampling, contour levels, grids.

No TensorBoard and no HTTP here: the race plugin's routes call these on decoded data, and
the tests call them directly. Errors in the data (a grid that is not 2-D, ...) are
ValueError; the plugin answers them as 404.
"""

from __future__ import annotations

import math
from typing import Any

import contourpy
import numpy as np

MAX_GRID = 201  # surface cells sent per side; larger grids are strided down
# A zoomed view's grid: this many points per side over the view and a margin of this share
# of the view's span on each side (so a short pan still has contours), inside the window.
VIEW_GRID = 121
VIEW_MARGIN = 0.25
# Linear contour levels leaving more than this share of the grid under the lowest level
# would hide the valley where optimizers race, so levels are log-spaced instead.
LOG_LEVELS_SHARE = 0.3


def sig(values: np.ndarray, digits: int = 7) -> list:
    """Floats rounded to `digits` significant digits (short JSON); NaN/Inf become None."""
    out = []
    for v in np.asarray(values, dtype=np.float64).tolist():
        out.append(float(f"{v:.{digits}g}") if math.isfinite(v) else None)
    return out


def _loss_axis(losses: np.ndarray) -> np.ndarray:
    """Losses on a log axis (symlog when some are <= 0), used to weigh loss-curve shape."""
    finite = losses[np.isfinite(losses)]
    if finite.size and (finite > 0).all():
        return np.log10(np.where(np.isfinite(losses), losses, np.nan))
    scale = max(float(np.abs(finite).max()) * 1e-3, 1e-12) if finite.size else 1.0
    return np.sign(losses) * np.log10(1 + np.abs(losses) / scale)


def lttb_indices(rows: np.ndarray, points: int, keep: list[int] | tuple = ()) -> np.ndarray:
    """Indices of rows (step, x, y, loss) kept by largest-triangle-three-buckets.

    The triangle area is measured in 4-D (step, x, y, log-loss), each axis normalised to
    its range, so both the 2-D path's bends and the loss curve's spikes survive. Rows in
    `keep` (plus the first and last) are always kept; the budget between two kept rows is
    shared in proportion to the rows between them. Non-finite rows are never picked
    unless kept explicitly.
    """
    n = len(rows)
    if n <= points:
        return np.arange(n)
    mandatory = sorted({0, n - 1, *(int(k) for k in keep if 0 <= k < n)})
    feats = np.column_stack([rows[:, 0], rows[:, 1], rows[:, 2], _loss_axis(rows[:, 3])])
    finite = np.isfinite(feats).all(axis=1)
    if finite.any():
        lo = np.nanmin(np.where(finite[:, None], feats, np.nan), axis=0)
        hi = np.nanmax(np.where(finite[:, None], feats, np.nan), axis=0)
        feats = (feats - lo) / np.where(hi > lo, hi - lo, 1.0)
    feats = np.where(np.isfinite(feats), feats, 0.0)
    budget = max(points - len(mandatory), 0)
    gaps = [
        np.arange(a + 1, b)[finite[a + 1 : b]]
        for a, b in zip(mandatory[:-1], mandatory[1:], strict=True)
    ]
    sizes = np.array([len(g) for g in gaps], dtype=np.float64)
    share = np.floor(budget * sizes / sizes.sum()).astype(int) if sizes.sum() else sizes * 0
    for i in np.argsort(-(budget * sizes / max(sizes.sum(), 1) - share))[: budget - share.sum()]:
        share[i] += 1  # hand out the rounding remainder to the largest fractions
    chosen = list(mandatory)
    for (a, b), gap, k in zip(
        zip(mandatory[:-1], mandatory[1:], strict=True), gaps, share, strict=True
    ):
        k = min(int(k), len(gap))
        if k == len(gap):
            chosen.extend(gap.tolist())
        elif k > 0:
            chosen.extend(_lttb_gap(feats, a, b, gap, k))
    return np.array(sorted(set(chosen)), dtype=np.int64)


def _lttb_gap(feats: np.ndarray, a: int, b: int, gap: np.ndarray, k: int) -> list[int]:
    """Pick k of the `gap` rows between anchors a and b (classic LTTB, one per bucket)."""
    buckets = np.array_split(gap, k)
    means = [feats[bucket].mean(axis=0) for bucket in buckets[1:]] + [feats[b]]
    prev = feats[a]
    picked = []
    for bucket, nxt in zip(buckets, means, strict=True):
        u = feats[bucket] - prev
        v = nxt - prev
        # squared area of the triangle (prev, candidate, next) in any dimension
        area2 = (u * u).sum(axis=1) * (v @ v) - (u @ v) ** 2
        best = int(bucket[int(np.argmax(area2))])
        picked.append(best)
        prev = feats[best]
    return picked


def contour_levels(grid: np.ndarray, count: int, log_scale: bool) -> tuple[np.ndarray, str]:
    """Contour levels for a surface grid and the scale used ("linear" or "log")."""
    finite = grid[np.isfinite(grid)]
    zmin, zmax = float(finite.min()), float(finite.max())
    if zmax <= zmin:
        return np.array([zmin]), "linear"
    linear = np.linspace(zmin, zmax, count + 2)[1:-1]
    if not log_scale and (finite < linear[0]).mean() <= LOG_LEVELS_SHARE:
        return linear, "linear"
    shifted = finite - zmin
    positive = shifted[shifted > 0]
    low = max(float(np.quantile(positive, 0.002)), (zmax - zmin) * 1e-9)
    levels = zmin + np.geomspace(low, zmax - zmin, count + 1)[:-1]
    return levels, "log"


def parse_view(text: str) -> tuple[float, float, float, float]:
    """`xmin,xmax,ymin,ymax` (finite, each pair increasing); ValueError otherwise."""
    parts = text.split(",")
    if len(parts) != 4:
        raise ValueError("must be four numbers xmin,xmax,ymin,ymax")
    try:
        x0, x1, y0, y1 = (float(p) for p in parts)
    except ValueError:
        raise ValueError("must be four numbers xmin,xmax,ymin,ymax") from None
    if not all(math.isfinite(v) for v in (x0, x1, y0, y1)) or not (x0 < x1 and y0 < y1):
        raise ValueError("must be finite with xmin < xmax and ymin < ymax")
    return x0, x1, y0, y1


def view_region(view: Any, window: Any, margin: float = VIEW_MARGIN) -> tuple | None:
    """The part of `window` a zoomed `view`'s grid covers: the view widened by `margin` of
    its span on each side, cut to the window (None when the view misses the window)."""
    x0, x1, y0, y1 = (float(v) for v in view)
    wx0, wx1, wy0, wy1 = (float(v) for v in window)
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    region = (max(wx0, x0 - mx), min(wx1, x1 + mx), max(wy0, y0 - my), min(wy1, y1 + my))
    if not (region[0] < region[1] and region[2] < region[3]):
        return None
    if x1 <= wx0 or x0 >= wx1 or y1 <= wy0 or y0 >= wy1:
        return None
    return region


def interpolate(grid: np.ndarray, window: Any, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The logged grid (rows follow y over `window`) bilinearly interpolated at the points
    xs x ys ([len(ys), len(xs)]); a cell touching a non-finite value gives NaN."""
    grid = np.asarray(grid, dtype=np.float64)
    wx0, wx1, wy0, wy1 = (float(v) for v in window)
    ny, nx = grid.shape

    def place(v: np.ndarray, lo: float, hi: float, n: int) -> tuple[np.ndarray, np.ndarray]:
        u = np.clip((np.asarray(v, dtype=np.float64) - lo) / (hi - lo) * (n - 1), 0, n - 1)
        i = np.minimum(np.floor(u).astype(np.int64), n - 2)
        return i, u - i

    ix, fx = place(xs, wx0, wx1, nx)
    iy, fy = place(ys, wy0, wy1, ny)
    fx, fy = fx[None, :], fy[:, None]
    g00 = grid[np.ix_(iy, ix)]
    g01 = grid[np.ix_(iy, ix + 1)]
    g10 = grid[np.ix_(iy + 1, ix)]
    g11 = grid[np.ix_(iy + 1, ix + 1)]
    top = g00 + (g01 - g00) * fx
    bottom = g10 + (g11 - g10) * fx
    with np.errstate(invalid="ignore"):
        return top + (bottom - top) * fy


def view_payload(
    values_at: Any,
    view: Any,
    window: Any,
    count: int,
    *,
    log_scale: bool = False,
    resolution: int = VIEW_GRID,
) -> dict[str, Any]:
    """Contour levels, colour scale, lines and grid of a zoomed `view` of a surface.

    `values_at(xs, ys)` gives the surface on the grid xs x ys ([len(ys), len(xs)]): the
    library's closed form, or the logged grid interpolated. The grid covers `view_region`
    (the view and a margin, inside the window) with `resolution` points per side; the levels
    and the colour scale (`zmin`, `zmax`) come from its values inside the view only, as the
    whole surface's come from the whole grid. ValueError when the view misses the window or
    holds no finite value.
    """
    region = view_region(view, window)
    if region is None:
        raise ValueError("does not overlap the surface's window")
    rx0, rx1, ry0, ry1 = region
    xs = np.linspace(rx0, rx1, resolution)
    ys = np.linspace(ry0, ry1, resolution)
    grid = np.asarray(values_at(xs, ys), dtype=np.float64)
    vx0, vx1, vy0, vy1 = (float(v) for v in view)
    inside = grid[np.ix_((ys >= vy0) & (ys <= vy1), (xs >= vx0) & (xs <= vx1))]
    if not np.isfinite(inside).any():
        # a view narrower than one grid step: the points around it
        cx = np.abs(xs - (vx0 + vx1) / 2).argsort()[:2]
        cy = np.abs(ys - (vy0 + vy1) / 2).argsort()[:2]
        inside = grid[np.ix_(np.sort(cy), np.sort(cx))]
    if not np.isfinite(inside).any():
        raise ValueError("has no finite values in this view")
    levels, scale = contour_levels(inside, count, bool(log_scale))
    values = inside[np.isfinite(inside)]
    payload = _contours_and_grid(grid, xs, ys, levels)
    return {
        "view": [vx0, vx1, vy0, vy1],
        "region": [float(rx0), float(rx1), float(ry0), float(ry1)],
        "log_scale": bool(log_scale),
        "scale": scale,
        "zmin": float(values.min()),
        "zmax": float(values.max()),
        **payload,
    }


def _contours_and_grid(
    grid: np.ndarray, xs: np.ndarray, ys: np.ndarray, levels: np.ndarray
) -> dict[str, Any]:
    """The contour lines at `levels` (contourpy, non-finite cells masked) and the grid,
    strided to MAX_GRID per side."""
    generator = contourpy.contour_generator(
        xs, ys, np.ma.masked_invalid(grid), line_type=contourpy.LineType.Separate
    )
    contours = []
    for level in levels:
        lines = [
            [sig(line[:, 0], 5), sig(line[:, 1], 5)]
            for line in generator.lines(float(level))
            if len(line) >= 2
        ]
        contours.append({"level": float(f"{level:.6g}"), "lines": lines})
    sy = max(1, math.ceil(grid.shape[0] / MAX_GRID))
    sx = max(1, math.ceil(grid.shape[1] / MAX_GRID))
    small = grid[::sy, ::sx]
    return {
        "levels": [c["level"] for c in contours],
        "contours": contours,
        "grid": {
            "nx": small.shape[1],
            "ny": small.shape[0],
            "x": sig(xs[::sx], 6),
            "y": sig(ys[::sy], 6),
            "values": [sig(row, 5) for row in small],
        },
    }


def default_tolerance(window: Any, minima: Any) -> float | None:
    """Without a logged tolerance: 1 % of the window's diagonal when there are minima."""
    if minima and window:
        return 0.01 * math.hypot(window[1] - window[0], window[3] - window[2])
    return None


def stack_rows(chunks: list[np.ndarray]) -> np.ndarray | None:
    """Concatenate [k, 4] chunks into one step-sorted array (later writes win)."""
    parts = [np.asarray(c, dtype=np.float64) for c in chunks]
    parts = [p for p in parts if p.ndim == 2 and p.shape[1] == 4 and len(p)]
    if not parts:
        return None
    rows = np.concatenate(parts)
    rows = rows[np.isfinite(rows[:, 0])]
    # np.unique keeps the first occurrence; reverse so a re-written step keeps its last row
    _, first = np.unique(rows[::-1, 0], return_index=True)
    return rows[::-1][first] if len(first) else None


def sample(rows: np.ndarray, metrics: dict[str, Any], points: int) -> dict[str, Any]:
    """The downsampled columns of a trajectory, keeping first, last and stop rows.

    `diverged_step`/`diverged_index` name the row where the path stops: where it diverged or
    escaped (`metrics["outcome"]` says which).
    """
    keep: list[int] = []
    diverged_index = None
    stopped = metrics.get("stopped_step", metrics.get("diverged_step"))
    if stopped is not None:
        diverged_index = int(np.searchsorted(rows[:, 0], stopped))
        diverged_index = min(diverged_index, len(rows) - 1)
        keep = [diverged_index - 1, diverged_index]
    index = lttb_indices(rows, points, keep)
    picked = rows[index]
    return {
        "total_points": len(rows),
        "points": len(index),
        "downsampling": "lttb" if len(index) < len(rows) else "none",
        "step": [int(s) for s in picked[:, 0]],
        "x": sig(picked[:, 1]),
        "y": sig(picked[:, 2]),
        "loss": sig(picked[:, 3]),
        "diverged_step": stopped,
        "diverged_index": (
            None if diverged_index is None else int(np.searchsorted(index, diverged_index))
        ),
    }


def surface_payload(
    grid: Any,
    window: Any,
    count: int,
    *,
    log_scale: bool = False,
    minima: list | None = None,
    start: list | None = None,
    surface: str | None = None,
) -> dict[str, Any]:
    """Grid (strided to MAX_GRID per side), contour lines and scale of a surface tensor.

    Raises ValueError when the grid is not 2-D, has no finite value or no window.
    """
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 2 or min(grid.shape) < 2:
        raise ValueError("is not a 2-D grid")
    if not window:
        raise ValueError("has no window")
    xmin, xmax, ymin, ymax = (float(v) for v in window)
    xs = np.linspace(xmin, xmax, grid.shape[1])
    ys = np.linspace(ymin, ymax, grid.shape[0])
    finite = np.isfinite(grid)
    if not finite.any():
        raise ValueError("has no finite values")
    levels, scale = contour_levels(grid, count, bool(log_scale))
    values = grid[finite]
    return {
        "surface": surface,
        "window": [xmin, xmax, ymin, ymax],
        "minima": minima or [],
        "start": start,
        "log_scale": bool(log_scale),
        "scale": scale,
        "zmin": float(values.min()),
        "zmax": float(values.max()),
        **_contours_and_grid(grid, xs, ys, levels),
    }
