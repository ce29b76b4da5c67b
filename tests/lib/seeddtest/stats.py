# SPDX-License-Identifier: MIT
"""Statistics of measurements: nearest-rank percentiles and medians."""

import math


def pct(values, p):
    """Nearest-rank percentile p (0..100) of values; None for no values."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def median(values):
    """The median of the values that are not None; None for none."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2
