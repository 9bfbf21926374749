"""Pairs of rows that share a group, indexed without a Python loop per pair.

Groups of one size share one template of pairs (the upper triangle of a square),
so the pairs of all groups of that size come from one broadcast addition.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pandas as pd

from within.errors import DataError

#: Pairs per yielded block; bounds memory when groups are large.
BLOCK_PAIRS = 1 << 21


def group_codes(groups, *, where: str) -> np.ndarray:
    """Integer codes 0..k-1 of ``groups``; missing groups are refused."""
    codes, _ = pd.factorize(np.asarray(groups, dtype=object), sort=False)
    if (codes < 0).any():
        raise DataError(f"{where}: {int((codes < 0).sum())} rows have no group; "
                        "every row needs one")
    return codes


def iter_group_pairs(codes: np.ndarray, *, block_pairs: int = BLOCK_PAIRS
                     ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield blocks ``(a, b)`` of row positions, one pair per element.

    Every unordered pair of distinct rows with the same code appears exactly once,
    with ``a`` the earlier row. The number of pairs grows with the square of a
    group's size; blocks hold about ``block_pairs`` pairs each.
    """
    codes = np.asarray(codes, dtype=np.int64)
    if len(codes) == 0:
        return
    # Rows sorted by group, keeping their order inside a group (stable sort), so a
    # group is one contiguous run of `order` starting at `starts[group]` and the
    # earlier position of a pair comes first.
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes)
    starts = np.cumsum(sizes) - sizes
    for size in np.unique(sizes):
        if size < 2:
            continue
        group_starts = starts[sizes == size]
        per_group = size * (size - 1) // 2
        if per_group <= block_pairs:
            first, second = np.triu_indices(size, 1)
            step = max(1, block_pairs // per_group)
            for i in range(0, len(group_starts), step):
                offsets = group_starts[i:i + step, None]
                a = order[(offsets + first).ravel()]
                b = order[(offsets + second).ravel()]
                yield a, b
        else:
            # A single group with more pairs than a block: take its rows a slice
            # at a time, each row paired with every later row of the group.
            rows_per_block = max(1, block_pairs // size)
            later = np.arange(size)
            for start in group_starts:
                for row0 in range(0, size, rows_per_block):
                    rows = np.arange(row0, min(row0 + rows_per_block, size))
                    first, second = np.nonzero(later[None, :] > rows[:, None])
                    a = order[start + rows[first]]
                    b = order[start + second]
                    yield a, b


def all_group_pairs(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair from :func:`iter_group_pairs`, concatenated."""
    blocks = list(iter_group_pairs(codes))
    if not blocks:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy()
    return (np.concatenate([a for a, _ in blocks]),
            np.concatenate([b for _, b in blocks]))
