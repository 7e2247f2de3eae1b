"""Benford's law on first digits and first-two digits, with Nigrini's conformity thresholds.

The statistics are those of Nigrini, *Benford's Law* (Wiley, 2012): the mean absolute deviation (MAD) of the
found from the expected proportions, graded by his limits; the chi-square statistic (critical value at 95%
for 8 or 89 degrees of freedom); the Kolmogorov-Smirnov statistic (the largest gap of the cumulative
proportions; critical value 1.36/sqrt(N) at 95%); and a z statistic per digit (with the continuity
correction) to name the digits in excess. Amounts under 10 are left out, as Nigrini does (their first two
digits are not defined by the money). The tests run only on data that qualify: enough amounts, spanning
enough orders of magnitude (from the 1st to the 99th percentile), and only amount columns, never assigned
numbers (vouchers, invoices, accounts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dftk_plugins.ledger.config import Config

# Nigrini (2012), table 7.1: close conformity, acceptable, marginally acceptable; above: nonconformity.
MAD_LIMITS = {1: (0.006, 0.012, 0.015), 2: (0.0012, 0.0018, 0.0022)}
GRADES = ("close", "acceptable", "marginal", "nonconformity")
CHI2_95 = {8: 15.507, 89: 112.022}
KS_95 = 1.36
Z_95 = 1.96
TESTS = {1: "first digit", 2: "first two digits"}


@dataclass(frozen=True, slots=True)
class Result:
    """One test's statistics; ``found`` counts per digit group in ascending order of the digits."""

    digits: int
    records: int
    counts: list[int]
    mad: float
    chi_square: float
    ks: float

    @property
    def conformity(self) -> str:
        return next((g for g, limit in zip(GRADES, MAD_LIMITS[self.digits], strict=False) if self.mad <= limit),
                    GRADES[-1])


def expected(digits: int) -> list[float]:
    """Benford's proportions of the first digit (1-9) or first two digits (10-99)."""
    return [math.log10(1 + 1 / d) for d in range(10 ** (digits - 1), 10 ** digits)]


def leading(value: Decimal, digits: int) -> int:
    """The first ``digits`` significant digits of an amount of 10 or more."""
    return int(format(abs(value), "f").replace(".", "").lstrip("0")[:digits])


def statistics(amounts: list[Decimal], digits: int) -> Result:
    """MAD, chi-square and Kolmogorov-Smirnov of the amounts' leading digits against Benford's law."""
    low = 10 ** (digits - 1)
    counts = [0] * (9 * low)
    for value in amounts:
        counts[leading(value, digits) - low] += 1
    n = len(amounts)
    exp = expected(digits)
    found = [c / n for c in counts]
    mad = sum(abs(f - e) for f, e in zip(found, exp, strict=True)) / len(exp)
    chi = sum((c - n * e) ** 2 / (n * e) for c, e in zip(counts, exp, strict=True))
    ks, cum_found, cum_exp = 0.0, 0.0, 0.0
    for f, e in zip(found, exp, strict=True):
        cum_found, cum_exp = cum_found + f, cum_exp + e
        ks = max(ks, abs(cum_found - cum_exp))
    return Result(digits, n, counts, mad, chi, ks)


def z_score(found: float, wanted: float, n: int) -> float:
    """Nigrini's z statistic of one digit group (the continuity correction only when it is smaller)."""
    gap = abs(found - wanted)
    correction = 1 / (2 * n)
    return (gap - correction if correction < gap else gap) / math.sqrt(wanted * (1 - wanted) / n)


def qualify(amounts: list[Decimal], cfg: Config) -> str | None:
    """Why the amounts do not qualify for a Benford test, or None when they do."""
    if len(amounts) < cfg.benford_min_records:
        return f"not tested: {len(amounts)} amounts of 10 or more (at least {cfg.benford_min_records} needed)"
    ordered = sorted(abs(a) for a in amounts)
    low, high = ordered[(len(ordered) - 1) // 100], ordered[(len(ordered) - 1) * 99 // 100]
    span = math.log10(high / low)
    if span < cfg.benford_min_span:
        return (f"not tested: the amounts span {span:.2f} orders of magnitude from the 1st to the 99th percentile "
                f"(at least {cfg.benford_min_span:g} needed)")
    return None


def excess(result: Result) -> list[dict[str, Any]]:
    """The digit groups found significantly more often than expected (z above 1.96), strongest first."""
    low = 10 ** (result.digits - 1)
    found = []
    for index, (count, wanted) in enumerate(zip(result.counts, expected(result.digits), strict=True)):
        share = count / result.records
        z = z_score(share, wanted, result.records)
        if share > wanted and z > Z_95:
            found.append({"digits": index + low, "count": count, "found": round(share, 6),
                          "expected": round(wanted, 6), "z": round(z, 3)})
    return sorted(found, key=lambda item: (-item["z"], item["digits"]))


def describe(result: Result) -> dict[str, Any]:
    """A test's statistics as finding data (without the rows it cites)."""
    df = len(result.counts) - 1
    critical_ks = KS_95 / math.sqrt(result.records)
    return {"test": TESTS[result.digits], "digits": result.digits, "records": result.records,
            "mad": result.mad, "conformity": result.conformity, "mad_limits": list(MAD_LIMITS[result.digits]),
            "chi_square": result.chi_square, "chi_square_critical": CHI2_95[df], "degrees_of_freedom": df,
            "ks": result.ks, "ks_critical": critical_ks,
            "deviation": result.conformity == "nonconformity", "excess": excess(result)[:5],
            "value": result.conformity}
