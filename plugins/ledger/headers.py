"""Column headers as roles: what a ledger's columns mean, in Chinese, English or pinyin initials.

Chinese headers match by substring (``交易金额`` holds ``金额``), English ones by whole words (``Value Date`` is
a date, ``updated_at`` is not), pinyin initials (``jyje``, ``dfhm``), as police and bank extracts name columns,
only exactly. The order of ``_ROLES`` settles overlaps: ``对方账号`` is the counterparty's account before it is
an account, ``余额`` a balance before anything else.
"""

from __future__ import annotations

import re
from decimal import Decimal

from dftk_plugins.ledger.values import text

MONEY = ("amount", "debit", "credit", "in", "out")
DATES = ("date", "datetime")

# (role, Chinese substrings, English word sequences, exact pinyin initials)
_ROLES: tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    ("balance", ("余额",), ("balance", "running balance"), ("ye", "zhye")),
    ("direction", ("借贷标志", "借贷方向", "收支标志", "收付标志", "交易方向", "借贷", "收支", "收/支", "出入"),
     ("direction", "dr cr", "debit credit", "debit/credit", "in out"), ("jdbz", "sfbz", "jyfx")),
    ("in", ("收入", "存入", "转入", "收款金额", "进账"), ("deposit", "deposits", "paid in", "money in", "inflow",
                                                      "receipts", "credit amount in"), ("srje", "crje")),
    ("out", ("支出", "支取", "转出", "付款金额", "取出"), ("withdrawal", "withdrawals", "paid out", "money out",
                                                     "outflow", "payments"), ("zcje", "qkje")),
    ("debit", ("借方",), ("debit", "debits", "dr", "debit amount"), ("jfje", "jffse")),
    ("credit", ("贷方",), ("credit", "credits", "cr", "credit amount"), ("dfje", "dffse")),
    ("amount", ("金额", "发生额", "交易额"), ("amount", "amt", "transaction amount", "sum"), ("je", "jyje", "fse")),
    ("voucher", ("凭证号", "凭证编号", "凭证字号", "凭证号码", "记账凭证", "凭证"),
     ("voucher", "voucher no", "voucher number", "journal no", "entry no"), ("pzh", "pzbh")),
    ("invoice", ("发票号", "发票编号", "发票代码"), ("invoice", "invoice no", "invoice number"), ("fph", "fphm")),
    ("datetime", ("交易时间", "记账时间", "入账时间", "发生时间", "时间"),
     ("datetime", "timestamp", "time", "transaction time", "posting time"), ("jysj", "sj", "jzsj")),
    ("date", ("日期",), ("date", "posting date", "value date", "transaction date", "booking date"),
     ("rq", "jyrq", "jzrq")),
    ("holder", ("本方户名", "账户名称", "账户名", "户名", "客户名称", "持卡人"), ("account name", "account holder"),
     ("hm", "khmc")),
    ("account", ("本方账号", "账号", "帐号", "卡号", "账户", "帐户"),
     ("account", "account no", "account number", "card no", "card number", "iban"), ("zh", "kh", "jykh")),
    ("memo", ("摘要", "用途", "附言", "备注", "说明", "交易类型", "业务类型"),
     ("memo", "description", "narrative", "remark", "remarks", "purpose", "particulars", "details", "note"),
     ("zy", "yt", "bz")),
)
# Who the other side is: named first (a name), then numbered (an account).
_PARTY = ("对方", "对手", "交易对方", "收款人", "付款人", "收款方", "付款方", "收款单位", "付款单位")
_PARTY_EN = ("counterparty", "counter party", "payee", "payer", "beneficiary", "opposite")
_PARTY_PINYIN = {"dfhm": "counterparty", "dfmc": "counterparty", "dfxm": "counterparty",
                 "dfzh": "counterparty_account", "dfkh": "counterparty_account"}
_NUMBERED = ("账", "帐", "卡号", "account", "acct", "iban", "card")


def words(header: str) -> list[str]:
    """English words of a header: ``CounterpartyName`` and ``counterparty_name`` both give two words."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", header)
    return re.findall(r"[a-z0-9]+", spaced.lower())


def _has_words(found: list[str], phrase: str) -> bool:
    wanted = phrase.replace("/", " ").split()
    return any(found[i:i + len(wanted)] == wanted for i in range(len(found) - len(wanted) + 1))


def _chinese(header: str) -> str:
    """The header without spaces, punctuation and a bracketed unit (``金额（元）`` -> ``金额``)."""
    return re.sub(r"[\s\(\)\[\]（）【】:：_\-·.]", "", re.sub(r"[（(【\[][^)）】\]]*[)）】\]]", "", header))


def role(header: str) -> str | None:
    """The role a column header names, or None."""
    raw = text(header)
    if not raw or len(raw) > 40:
        return None
    compact, found = _chinese(raw).lower(), words(raw)
    if compact in _PARTY_PINYIN:
        return _PARTY_PINYIN[compact]
    other = any(p in compact for p in _PARTY) or any(_has_words(found, p) for p in _PARTY_EN)
    if other and "余额" not in compact:
        numbered = any(n in compact for n in _NUMBERED) and "名" not in compact and "name" not in found
        return "counterparty_account" if numbered else "counterparty"
    for name, chinese, english, pinyin in _ROLES:
        if compact in pinyin or any(c in compact for c in chinese) or any(_has_words(found, e) for e in english):
            return name
    return None


def scale(header: str) -> Decimal:
    """The unit a money column's header states: 万元 (10,000 yuan), 亿元, else yuan."""
    raw = text(header)
    if "亿元" in raw:
        return Decimal(100_000_000)
    return Decimal(10_000) if "万元" in raw else Decimal(1)


def roles(cells: list[str]) -> dict[str, int]:
    """Role -> column index for a header row (the first column that names a role keeps it)."""
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        named = role(cell)
        if named is not None and named not in found:
            found[named] = index
    return found


def is_ledger_header(found: dict[str, int]) -> bool:
    """A transaction table names a date and an amount (or debit/credit, in/out) column."""
    return any(r in found for r in DATES) and any(r in found for r in MONEY)
