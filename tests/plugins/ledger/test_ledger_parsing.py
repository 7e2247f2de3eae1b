"""Reading ledgers: amounts, dates and headers as written, encodings, sniffing, recognition by content, and
malformed files that become Problems, never exceptions."""

from __future__ import annotations

import io
import sqlite3
import zipfile
from datetime import date, time
from decimal import Decimal
from pathlib import Path

import click
import pytest
from workbooks import xlsx

from dftk.api import EvidenceFile, Finding, Problem, Record
from dftk_plugins.ledger.config import Config, parse_night, parse_thresholds
from dftk_plugins.ledger.headers import role
from dftk_plugins.ledger.plugin import LedgerPlugin
from dftk_plugins.ledger.sniff import sniff
from dftk_plugins.ledger.text import encoding_of
from dftk_plugins.ledger.timing import is_night
from dftk_plugins.ledger.values import amount, clock, money, when
from helpers import shared_data


def _analyze(name: str, data: bytes, **opts: object) -> list[Record]:
    return list(LedgerPlugin().analyze(EvidenceFile(f"/{name}", len(data)), data, **opts))


@pytest.mark.parametrize(("cell", "expected"), [
    ("1,234,567.89", "1234567.89"), ("１２，３４５．６７", "12345.67"), ("(1,234.00)", "-1234.00"),
    ("（５００）", "-500"), ("1.5万元", "15000.0"), ("2亿元", "200000000"), ("¥1,000", "1000"), ("人民币 500元", "500"),
    ("3,000.00-", "-3000.00"), ("−12.50", "-12.50"), (45000.0, "45000.0"), (7, "7"), ("RMB 88.8", "88.8")])
def test_amounts_as_ledgers_write_them(cell: object, expected: str) -> None:
    assert amount(cell) == Decimal(expected)


@pytest.mark.parametrize("cell", ["1,23", "12e3", "-", "", "2023-01-05", "abc", True, None, "1,2345.00", "9" * 40,
                                  float("nan"), 1e300])
def test_what_is_not_an_amount(cell: object) -> None:
    assert amount(cell) is None


def test_a_column_unit_scales_amounts() -> None:
    assert amount("1.2345", Decimal(10000)) == Decimal("12345.0000")
    assert money(Decimal("12345.0000")) == "12345.00" and money(Decimal("3.125")) == "3.125"


@pytest.mark.parametrize(("cell", "day", "at"), [
    ("2023-01-05", date(2023, 1, 5), None), ("2023/1/5 9:05", date(2023, 1, 5), time(9, 5)),
    ("2023年1月5日", date(2023, 1, 5), None), ("2023年1月5日12时30分", date(2023, 1, 5), time(12, 30)),
    ("20230105", date(2023, 1, 5), None), (20230105, date(2023, 1, 5), None),
    ("2023-01-05T23:15:00", date(2023, 1, 5), time(23, 15)), ("２０２３－０１－０５", date(2023, 1, 5), None)])
def test_dates_as_ledgers_write_them(cell: object, day: date, at: time | None) -> None:
    assert when(cell) == (day, at)


def test_impossible_dates_and_times_are_none() -> None:
    assert when("2023-02-30") is None and when("1234") is None and when(45000) is None
    assert clock("23:15:01") == time(23, 15, 1) and clock("231501") == time(23, 15, 1) and clock("25:00") is None


@pytest.mark.parametrize(("header", "expected"), [
    ("交易日期", "date"), ("交易时间", "datetime"), ("借方发生额", "debit"), ("贷方金额", "credit"),
    ("账户余额", "balance"), ("对方户名", "counterparty"), ("对方账户名", "counterparty"),
    ("对方账号", "counterparty_account"), ("收款人账号", "counterparty_account"), ("本方账号", "account"),
    ("摘要", "memo"), ("凭证号", "voucher"), ("发票号码", "invoice"), ("金额（万元）", "amount"), ("收入金额", "in"),
    ("支出", "out"), ("借贷标志", "direction"), ("Posting Date", "date"), ("Counterparty Account",
                                                                       "counterparty_account"),
    ("CounterpartyName", "counterparty"), ("Debit", "debit"), ("Dr", "debit"), ("Account Name", "holder"),
    ("jyje", "amount"), ("dfhm", "counterparty"), ("dfzh", "counterparty_account"), ("updated_at", None),
    ("Description", "memo"), ("备用字段", None)])
def test_headers_name_roles(header: str, expected: str | None) -> None:
    assert role(header) == expected


def test_encodings_are_told_apart() -> None:
    text = "交易日期,金额\n2023-01-05,100.00\n"
    assert encoding_of(text.encode("utf-8")) == "utf-8"
    assert encoding_of(b"\xef\xbb\xbf" + text.encode("utf-8")) == "utf-8-sig"
    assert encoding_of(text.encode("gbk")) == "gbk"
    assert encoding_of((text + "€𠀀\n").encode("gb18030")) == "gb18030"  # characters GBK cannot hold
    assert encoding_of(text.encode("utf-16")) == "utf-16"


def _csv(rows: list[str], encoding: str = "utf-8") -> bytes:
    return "\n".join(rows).encode(encoding)


LEDGER = ["日期,金额,对方户名,摘要"] + [f"2023-03-{d:02d},{d * 101}.5{d % 10},客户{d},货款" for d in range(1, 11)]


def test_gb18030_and_tab_separated_text_are_read() -> None:
    data = _csv([line.replace(",", "\t") for line in LEDGER] + ["2023-03-20\t99.01\t€客户\t货款"], "gb18030")
    [table] = [r for r in _analyze("a.tsv", data) if isinstance(r, Finding) and r.kind == "ledger/table"]
    assert (table.data["format"], table.data["encoding"], table.data["transactions"]) == ("tsv", "gb18030", 11)


def test_sniffing_decides_from_the_start_and_the_extension() -> None:
    data = _csv(LEDGER)
    assert sniff("/a.csv", data) == "text" and sniff("/a.jpg", data) is None
    assert sniff("/notes.txt", b"Meeting at the harbour.\nBring the invoices.\n") is None
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("word/document.xml", "<w/>")
    assert sniff("/a.xlsx", docx.getvalue()) is None
    assert sniff("/carved.zip", xlsx("S", {1: ["Date", "Amount"]})) == "xlsx"
    assert sniff("/x", b"SQLite format 3\x00" + bytes(100)) == "sqlite"


def test_files_that_are_not_ledgers_are_never_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    from dftk_plugins.ledger import examine

    def refuse(kind: str, data: bytes) -> None:
        raise AssertionError(f"parsed a file sniffed as {kind}")

    monkeypatch.setattr(examine, "_tables", refuse)
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("word/document.xml", "<w/>")
    files = {"photo.jpg": b"\xff\xd8\xff\xe0" + bytes(5000), "a.docx": docx.getvalue(),
             "notes.txt": "会议纪要：明天十点开会。\n带上发票。\n".encode(), "data.csv": bytes(range(256)) * 40,
             "old.doc": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "WordDocument".encode("utf-16-le") + bytes(600),
             "table.csv": b"name,city\nA,B\nC,D\n", "ledger.pdf": _csv(LEDGER)}
    for name, data in files.items():
        assert _analyze(name, data) == [], name


def test_a_table_without_headers_is_recognised_by_content() -> None:
    rows = [f"2023-03-{d:02d},-{d * 37}.{d:02d},客户{d}" for d in range(1, 12)]
    found = [r for r in _analyze("export.csv", _csv(rows)) if isinstance(r, Finding) and r.kind == "ledger/table"]
    assert found and found[0].data["recognised_by"] == "content" and found[0].data["header_row"] is None
    assert found[0].data["transactions"] == 11


def test_counters_and_codes_are_not_amounts() -> None:
    rows = ["id,when,code"] + [f"{i},2023-03-{i:02d},{1000 + i}" for i in range(1, 12)]
    assert _analyze("log.csv", _csv(rows)) == []


def test_monthly_voucher_numbers_are_sequences_per_month() -> None:
    rows = ["日期,凭证号,金额,对方户名"]
    for month in (3, 4, 5):
        numbers = [1, 2, 3, 4, 6, 7] if month == 4 else [1, 2, 3, 4, 5, 6]
        rows += [f"2023-{month:02d}-{n + 5:02d},记-{n},{month * 100 + n}.25,客户{month}{n}" for n in numbers]
    found = [r.data for r in _analyze("j.csv", _csv(rows)) if isinstance(r, Finding) and r.kind.startswith(
        "ledger/sequence")]
    assert [(f["period"], f["missing_first"], f["rows"]) for f in found] == [("2023-04", "记-5", [11, 12])]


def test_malformed_ledgers_are_problems_not_exceptions(tmp_path: Path) -> None:
    book = xlsx("S", {1: ["Date", "Amount"], **{n: ["2023-03-07", n + 0.5] for n in range(2, 9)}})
    db = tmp_path / "x.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE t (jyrq TEXT, jyje REAL)")
    con.close()
    cases = {"cut.xlsx": book[: len(book) // 2 + 40] + book[-30:],
             "bad.csv": "日期,金额\n".encode() + b"2023-01-01,1.50\n" * 5000 + b"\xff\xfe\xfa" * 10,
             "db.sqlite": db.read_bytes()[:100] + b"\xff" * 400,
             "odd.csv": b'\xef\xbb\xbf\xe6\x97\xa5\xe6\x9c\x9f,\xe9\x87\x91\xe9\xa2\x9d\n"2023-01-01,1\n' * 3}
    for name, data in cases.items():
        records = _analyze(name, data)
        assert all(isinstance(r, (Problem, Finding)) for r in records)
        assert any(isinstance(r, Problem) for r in records) or name == "odd.csv", (name, records)


def test_an_encrypted_workbook_is_a_problem() -> None:
    data = shared_data("oletools/encrypted/encrypted.xlsx").read_bytes()
    [problem] = _analyze("encrypted.xlsx", data)
    assert isinstance(problem, Problem) and "encrypted" in problem.message


def test_a_real_xls_is_read_and_holds_no_ledger() -> None:
    data = shared_data("oletools/excel4-macros/excel4_sample_macro.xls").read_bytes()
    assert sniff("/m.xls", data) == "xls" and _analyze("m.xls", data) == []


def test_options_are_checked() -> None:
    assert [t.name for t in parse_thresholds("b=200,a=50")] == ["a", "b"]
    assert parse_night("23:00-05:30") == (time(23), time(5, 30))
    for bad in ("cash", "cash=-1", "Cash=5", "cash=x"):
        with pytest.raises(ValueError):
            parse_thresholds(bad)
    with pytest.raises(click.BadParameter):
        LedgerPlugin.options[0].process_value(click.Context(click.Command("x")), "cash=0")
    assert Config.from_options({}).thresholds[0].amount == Decimal(50000)
    assert is_night(time(23, 59), (time(22), time(6))) and not is_night(time(12), (time(22), time(6)))
    assert is_night(time(1), (time(0), time(5))) and not is_night(time(5), (time(0), time(5)))
