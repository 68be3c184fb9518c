"""Number formatting for tables and messages: one helper, used everywhere."""
from __future__ import annotations

import math


def human(n: float | None, unit: str = "", spec: str = ".2f") -> str:
    """``11689512`` -> ``"11.69M"``; ``5e6, spec=".4g"`` -> ``"5M"``; None -> ``"-"``."""
    if n is None:
        return "-"
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:{spec}}{suf}{unit}"
    return f"{n:{'g' if spec.endswith('f') else spec}}{unit}"


def big(n: int | None) -> str:
    """Exact with thousands separators below 10⁷, else scientific: ``5.20e36``."""
    if n is None:
        return "?"
    if n < 10 ** 7:
        return f"{n:,}"
    e = int(math.log10(n))
    return f"{n / 10 ** e:.2f}e{e}"


def exact(n: float) -> str:
    """Every digit, thousands separated: ``11689512`` -> ``"11,689,512"``."""
    return f"{n:,.0f}"
