"""Every anomaly planted in the generated ledgers is found, citing its rows, and nothing else is; the clean
controls give no anomaly; the Benford statistics equal benford_py's (an independent implementation)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ledger_model import Built
from ledgers import build

from dftk.api import EvidenceFile, Finding, Problem
from dftk_plugins.ledger.plugin import LedgerPlugin

# Kinds that describe a ledger rather than flag something in it.
SUMMARIES = {"ledger/table", "ledger/counterparty"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build(tmp_path_factory.mktemp("ledgers"))


@pytest.fixture(scope="module")
def findings(built: Built) -> dict[str, list[Finding]]:
    result = {}
    for name, path in built.files.items():
        records = list(LedgerPlugin().analyze(EvidenceFile(f"/{name}", path.stat().st_size), path.read_bytes()))
        assert not [r for r in records if isinstance(r, Problem)], name
        result[name] = [r for r in records if isinstance(r, Finding)]
    return result


def _anomalies(found: list[Finding]) -> Iterator[Finding]:
    for finding in found:
        if finding.kind not in SUMMARIES and not (finding.kind == "ledger/benford" and not finding.data["deviation"]):
            yield finding


def test_the_generator_is_deterministic(built: Built, tmp_path: Path) -> None:
    again = build(tmp_path / "again")
    for name in built.files:
        assert (tmp_path / "again" / name).read_bytes() == built.files[name].read_bytes(), name
    assert again.planted == built.planted


def test_every_planted_anomaly_is_found_citing_its_rows(built: Built, findings: dict[str, list[Finding]]) -> None:
    for planted in built.planted:
        candidates = [f for f in findings[planted.file] if f.kind == planted.kind]
        matching = [f for f in candidates if (not planted.rows or f.data["rows"] == planted.rows)
                    and all(f.data.get(k) == v for k, v in planted.fields.items())]
        assert len(matching) == 1, (planted, [f.data for f in candidates])


def test_nothing_is_found_that_was_not_planted(built: Built, findings: dict[str, list[Finding]]) -> None:
    for name, found in findings.items():
        planted = {(p.kind, tuple(p.rows)) for p in built.planted if p.file == name}
        for finding in _anomalies(found):
            key = (finding.kind, () if finding.kind == "ledger/benford" else tuple(finding.data["rows"]))
            assert key in planted, (name, finding.kind, finding.data)


def test_clean_controls_give_no_anomaly(built: Built, findings: dict[str, list[Finding]]) -> None:
    for name in built.controls:
        assert [f.kind for f in findings[name] if f.kind == "ledger/table"] == ["ledger/table"]
        assert list(_anomalies(findings[name])) == []
    benford = [f.data for f in findings["control_bom.csv"] if f.kind == "ledger/benford"]
    assert [b["conformity"] in ("close", "acceptable") for b in benford] == [True, True]


def test_a_planted_make_up_working_saturday_is_no_day_off(findings: dict[str, list[Finding]]) -> None:
    days = [f.data["date"] for f in findings["statement_gbk.csv"] if f.kind == "ledger/off-day"]
    assert "2023-10-07" not in days and "2023-10-02" in days


def _benford_py(amounts: list[Decimal], digits: int) -> Any:
    import numpy
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # benford_py 0.5 uses pandas features pandas now deprecates
        import benford

        base = benford.Base(numpy.array([float(a) for a in amounts if abs(a) >= 10]), decimals=2)
        return benford.Test(base, digits, confidence=95)


@pytest.mark.parametrize("name", ["statement_gbk.csv", "control_bom.csv"])
def test_benford_statistics_equal_benford_py(built: Built, findings: dict[str, list[Finding]], name: str) -> None:
    tests = {f.data["digits"]: f.data for f in findings[name] if f.kind == "ledger/benford"}
    assert sorted(tests) == [1, 2]
    for digits, ours in tests.items():
        theirs = _benford_py(built.amounts[name], digits)
        assert ours["records"] == sum(1 for a in built.amounts[name] if abs(a) >= 10)
        assert ours["mad"] == pytest.approx(float(theirs.MAD), abs=1e-9)
        assert ours["chi_square"] == pytest.approx(float(theirs.chi_square), abs=1e-9)
        assert ours["ks"] == pytest.approx(float(theirs.KS), abs=1e-9)
        assert ours["degrees_of_freedom"] == theirs.ddf


def test_ledgers_are_read_as_written(findings: dict[str, list[Finding]]) -> None:
    tables = {name: next(f.data for f in found if f.kind == "ledger/table") for name, found in findings.items()}
    statement, books, db = tables["statement_gbk.csv"], tables["books.xlsx"], tables["ledger.sqlite"]
    assert (statement["encoding"], statement["cited_as"], statement["direction"]) == (
        "gbk", "line", "bank statement reading: 借方/debit is money out")
    assert statement["transactions"] == 1509 and statement["skipped"] == 1  # the 合计 line
    assert (books["header_row"], books["cited_as"], books["direction"]) == (
        3, "row", "books reading: 借方/debit is money in")
    assert (db["cited_as"], db["columns"]["amount"], db["table"]) == ("rowid", "jyje", "jyls")
    assert tables["control_bom.csv"]["encoding"] == "utf-8-sig"
    assert tables["control.ods"]["columns"]["amount"] == "金额（万元）"
    assert [f.data["table"] for f in findings["ledger.sqlite"] if f.kind == "ledger/table"] == ["jyls"]


def test_amounts_in_wan_yuan_and_totals_match_the_generator(built: Built, findings: dict[str, list[Finding]]) -> None:
    for name, amounts in built.amounts.items():
        table = next(f.data for f in findings[name] if f.kind == "ledger/table")
        assert Decimal(table["in_total"]) == sum(a for a in amounts if a > 0), name
        assert Decimal(table["out_total"]) == -sum(a for a in amounts if a < 0), name


def test_options_change_what_is_found(built: Built) -> None:
    path = built.files["books.xlsx"]
    records = list(LedgerPlugin().analyze(EvidenceFile("/books.xlsx", path.stat().st_size), path.read_bytes(),
                                          ledger_thresholds="cash=50000", ledger_split_count=4,
                                          ledger_round_unit="1000"))
    kinds = [r.kind for r in records if isinstance(r, Finding)]
    assert "ledger/split" not in kinds and kinds.count("ledger/below-threshold") == 1
    rounds = next(r.data for r in records if isinstance(r, Finding) and r.kind == "ledger/round-amounts")
    assert rounds["count"] >= 2 and rounds["unit"] == "1000.00"
