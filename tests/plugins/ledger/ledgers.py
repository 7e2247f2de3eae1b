"""The test ledgers, written from a seed: ``build(folder)`` (see ``ledger_model.py`` for what they hold).

- ``statement_gbk.csv``: a bank statement of account …0001 in GBK with Chinese headers, 借方/贷方 and a
  balance, amounts with separators, full-width digits and 元, a memo over two lines, a 合计 line; first
  digits drawn uniformly (a Benford deviation), a holiday, a weekend and a make-up working Saturday (not a
  day off), two night postings, an exact duplicate;
- ``books.xlsx``: the bank journal of account …0002 under a title (English headers, books reading: debit is
  money in), two amounts just below thresholds, a payment split in three, two round amounts, a voucher gap,
  a voucher and an invoice used twice;
- ``ledger.sqlite``: table ``jyls`` of account …0003 (pinyin columns, signed amounts as text, parentheses for
  negatives) with a near duplicate, an amount just below a threshold and a night posting, beside two tables
  that are not ledgers;
- ``control_bom.csv`` (UTF-8 with a BOM, 3000 amounts that follow Benford's law) and ``control.ods`` (万元
  amounts, date cells): clean controls.

Money goes round …0001 -> …0002 -> …0003 -> …0001, each flow recorded in both ledgers.
"""

from __future__ import annotations

import csv
import io
import random
import sqlite3
from datetime import date, time
from decimal import Decimal
from pathlib import Path

from ledger_model import ACCOUNTS, NAMES, SEED, Built, Entry, Filler, Planted, cycle_of, in_order
from workbooks import ods, xlsx

Written = tuple[str, list[Entry], list[Planted]]


def _rows(entries: list[Entry], tag: str) -> list[int]:
    return [e.row for e in entries if e.tag == tag]


def _fullwidth(text: str) -> str:
    return text.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789.,"})


def _statement_amount(value: Decimal, index: int) -> str:
    plain = f"{value:.2f}"
    return (plain, f"{value:,.2f}", _fullwidth(f"{value:,.2f}"), f"{value:,.2f}元")[index % 4]


def write_statement(folder: Path, rng: random.Random) -> Written:
    filler = Filler(rng, 300, "甲", 1)
    entries = [filler.entry(False, 10, 100000) for _ in range(1500)]
    entries[7].memo = "货款\n（分两行）"
    entries += [
        Entry(date(2023, 10, 2), time(10, 5), -Decimal("3456.78"), "国庆客户", "6217000000000101", tag="holiday"),
        Entry(date(2023, 3, 5), time(14, 20), Decimal("2345.67"), "周末客户", "6217000000000102", tag="weekend"),
        Entry(date(2023, 10, 7), time(9, 45), -Decimal("1234.56"), "调休客户", "6217000000000103", tag="makeup"),
        Entry(date(2023, 3, 8), time(23, 40), -Decimal("5678.90"), "夜间客户一", "6217000000000104", tag="night"),
        Entry(date(2023, 11, 15), time(2, 15), Decimal("6789.01"), "夜间客户二", "6217000000000105", tag="night"),
        *(Entry(date(2023, 3, 22), at, -Decimal("7777.77"), "重复客户", "6217000000000106", tag="dup")
          for at in (time(10, 0), time(15, 30))),
        *cycle_of("甲")]
    entries = in_order(entries)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["交易日期", "交易时间", "本方账号", "借方发生额", "贷方发生额", "余额", "对方户名", "对方账号",
                     "摘要", "凭证号"])
    line, balance = 2, Decimal("5000000.00")
    for i, e in enumerate(entries):
        balance += e.amount
        y, m, d = e.day.year, e.day.month, e.day.day
        shown = (e.day.isoformat(), f"{y}/{m}/{d}", f"{y}年{m}月{d}日")
        debit, credit = (_statement_amount(-e.amount, i), "") if e.amount < 0 else ("", _statement_amount(e.amount, i))
        writer.writerow([shown[i % 3], e.at.isoformat(), ACCOUNTS["甲"], debit, credit, f"{balance:,.2f}", e.name,
                         e.account, e.memo, f"{i + 1:06d}"])
        e.row, line = line, line + 1 + e.memo.count("\n")
    writer.writerow(["", "", "", "", "", "", "", "", "合计", ""])
    (folder / "statement_gbk.csv").write_bytes(out.getvalue().encode("gbk"))
    planted = [Planted("ledger/benford", "statement_gbk.csv", [], {"deviation": True, "digits": d}) for d in (1, 2)]
    planted += [Planted("ledger/off-day", "statement_gbk.csv", _rows(entries, "holiday"),
                        {"day": "holiday", "holiday": "National Day", "date": "2023-10-02"}),
                Planted("ledger/off-day", "statement_gbk.csv", _rows(entries, "weekend"),
                        {"day": "weekend", "date": "2023-03-05"}),
                Planted("ledger/duplicate", "statement_gbk.csv", _rows(entries, "dup"), {"amount": "-7777.77"})]
    planted += [Planted("ledger/night", "statement_gbk.csv", [row], {}) for row in _rows(entries, "night")]
    return "statement_gbk.csv", entries, planted


def _books_entries(rng: random.Random) -> list[Entry]:
    filler = Filler(rng, 30, "乙", 2)
    entries = [filler.entry(True, 100, 200000) for _ in range(60)]
    for index in range(0, 60, 2):
        entries[index].invoice = f"FP{rng.randrange(10**7, 10**8)}"
    split = [(date(2023, 3, 7), "30500.00"), (date(2023, 3, 8), "28700.00"), (date(2023, 3, 9), "26900.00")]
    return entries + [
        Entry(date(2023, 3, 21), time(10), -Decimal("49800.00"), "现金客户", "6217000000000201", tag="below-cash"),
        Entry(date(2023, 11, 8), time(11), -Decimal("1950000.50"), "大额客户", "6217000000000202", tag="below-entity"),
        *(Entry(day, time(14), -Decimal(value), "拆分客户", "6217000000000203", tag="split") for day, value in split),
        Entry(date(2023, 3, 29), time(15), Decimal("100000.00"), "整数客户一", "6217000000000204", tag="round"),
        Entry(date(2023, 11, 22), time(15), -Decimal("20000.00"), "整数客户二", "6217000000000205", tag="round"),
        Entry(date(2023, 3, 15), time(9), -Decimal("3210.98"), "发票客户一", "6217000000000206", tag="invoice",
              invoice="FP88001234"),
        Entry(date(2023, 11, 9), time(9), -Decimal("4321.09"), "发票客户二", "6217000000000207", tag="invoice",
              invoice="FP88001234"),
        Entry(date(2023, 11, 29), time(16), -Decimal("876.54"), "凭证客户", "6217000000000208", tag="voucher-repeat"),
        *cycle_of("乙")]


def write_books(folder: Path, rng: random.Random) -> Written:
    entries = in_order(_books_entries(rng))
    number = 0
    for index, e in enumerate(entries):
        if e.tag != "voucher-repeat":
            number += 4 if index == 21 else 1  # 记-0022..0024 never used
            e.voucher = f"记-{number:04d}"
    repeat = next(e for e in entries if e.tag == "voucher-repeat")
    repeat.voucher = entries[0].voucher
    rows: dict[int, list[object]] = {1: ["2023年 银行存款日记账（乙科技有限公司）"], 3: [
        "Date", "Voucher No", "Account", "Counterparty", "Counterparty Account", "Debit", "Credit", "Balance",
        "Memo", "Invoice No"]}
    balance = Decimal("3000000.00")
    for index, e in enumerate(entries):
        balance += e.amount
        e.row = 4 + index
        debit, credit = (float(e.amount), None) if e.amount > 0 else (None, float(-e.amount))
        rows[e.row] = [e.day.strftime("%Y/%m/%d"), e.voucher, ACCOUNTS["乙"], e.name, e.account, debit, credit,
                       float(balance), e.memo, e.invoice or None]
    rows[5 + len(entries)] = ["Total", None, None, None, None, 1.0, 1.0]
    (folder / "books.xlsx").write_bytes(xlsx("日记账", rows))
    gap = [entries[20].row, entries[22 if entries[21].tag == "voucher-repeat" else 21].row]
    return "books.xlsx", entries, [
        Planted("ledger/below-threshold", "books.xlsx", _rows(entries, "below-cash"), {"rule": "cash"}),
        Planted("ledger/below-threshold", "books.xlsx", _rows(entries, "below-entity"), {"rule": "transfer-entity"}),
        Planted("ledger/split", "books.xlsx", _rows(entries, "split"),
                {"rule": "cash", "parts": 3, "direction": "out"}),
        Planted("ledger/round-amounts", "books.xlsx", _rows(entries, "round"), {"count": 2}),
        Planted("ledger/sequence-gap", "books.xlsx", gap, {"missing": 3, "missing_first": "记-0022"}),
        Planted("ledger/sequence-repeat", "books.xlsx", sorted([entries[0].row, repeat.row]), {"column": "voucher"}),
        Planted("ledger/sequence-repeat", "books.xlsx", _rows(entries, "invoice"), {"column": "invoice"})]


def _sqlite_amount(value: Decimal, index: int) -> str:
    if value < 0:
        return f"({-value:,.2f})" if index % 2 else f"{value:.2f}"
    return f"{value:,.2f}" if index % 2 else f"{value:.2f}"


def write_sqlite(folder: Path, rng: random.Random) -> Written:
    filler = Filler(rng, 25, "丙", 3)
    entries = in_order([filler.entry(True, 10, 100000) for _ in range(80)] + [
        *(Entry(day, at, -Decimal("8888.88"), "近似客户", "6217000000000301", tag="near")
          for day, at in ((date(2023, 3, 7), time(10, 20)), (date(2023, 3, 9), time(14, 10)))),
        Entry(date(2023, 11, 16), time(9, 30), Decimal("480000.01"), "大额转入客户", "6217000000000302", tag="below"),
        Entry(date(2023, 11, 21), time(22, 30), -Decimal("1357.91"), "夜间客户三", "6217000000000303", tag="night"),
        *cycle_of("丙")])
    path = folder / "ledger.sqlite"
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE settings (key TEXT, value TEXT)")
        db.executemany("INSERT INTO settings VALUES (?, ?)", [("version", "3"), ("owner", NAMES["丙"])])
        db.execute("CREATE TABLE audit (id INTEGER PRIMARY KEY, updated_at TEXT, note TEXT)")
        db.executemany("INSERT INTO audit (updated_at, note) VALUES (?, ?)",
                       [(f"2023-03-{d:02d} 08:00:00", f"checked {d}") for d in range(1, 20)])
        db.execute("CREATE TABLE jyls (jysj TEXT, jyje TEXT, zh TEXT, dfhm TEXT, dfzh TEXT, zy TEXT)")
        for index, e in enumerate(entries):
            e.row = index + 1
            db.execute("INSERT INTO jyls (rowid, jysj, jyje, zh, dfhm, dfzh, zy) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (e.row, f"{e.day.isoformat()} {e.at.isoformat()}", _sqlite_amount(e.amount, index),
                        ACCOUNTS["丙"], e.name, e.account, e.memo))
    db.close()
    return "ledger.sqlite", entries, [
        Planted("ledger/near-duplicate", "ledger.sqlite", _rows(entries, "near"), {"days_apart": 2}),
        Planted("ledger/below-threshold", "ledger.sqlite", _rows(entries, "below"), {"rule": "transfer-person"}),
        Planted("ledger/night", "ledger.sqlite", _rows(entries, "night"), {"time": "2023-11-21T22:30:00"})]


def write_control_csv(folder: Path, rng: random.Random) -> Written:
    filler = Filler(rng, 300, "C", 4)
    entries = in_order([filler.entry(True, 10, 1000000) for _ in range(3000)])
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Posting Date", "Amount", "Counterparty", "Memo"])
    for index, e in enumerate(entries):
        e.row = index + 2
        writer.writerow([e.day.isoformat(), f"{e.amount:,.2f}" if index % 2 else f"{e.amount:.2f}", e.name, e.memo])
    (folder / "control_bom.csv").write_bytes(out.getvalue().encode("utf-8-sig"))
    return "control_bom.csv", entries, []


def write_control_ods(folder: Path, rng: random.Random) -> Written:
    filler = Filler(rng, 12, "D", 5)
    entries = in_order([filler.entry(True, 100, 100000) for _ in range(40)])
    rows: list[list[object]] = [["日期", "金额（万元）", "对方户名", "摘要", "凭证号"]]
    for index, e in enumerate(entries):
        e.row = index + 2
        rows.append([e.day, float(e.amount / 10000), e.name, e.memo, f"{index + 1:04d}"])
    (folder / "control.ods").write_bytes(ods("流水", rows))
    return "control.ods", entries, []


def build(folder: Path, seed: int = SEED) -> Built:
    """Writes the five ledgers into ``folder``; returns what was planted where, and every amount."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    built = Built({}, [], {})
    for writer in (write_statement, write_books, write_sqlite, write_control_csv, write_control_ods):
        name, entries, planted = writer(folder, rng)
        built.files[name] = folder / name
        built.amounts[name] = [e.amount for e in entries]
        built.planted += planted
    return built
