"""Forensic accounting (司法会计): ledgers found in evidence, and the tests an examiner runs on them.

``plugin.py`` is the file-scope plugin (discipline ``accounting``); ``command.py`` is ``dftk ledger``. A file
is sniffed from its first bytes and extension (``sniff.py``), read as tables (``text.py``, ``sheets.py``,
``database.py``), recognised as a ledger by its headers or content (``headers.py``, ``recognise.py``), and
tested (``benford.py``, ``duplicates.py``, ``thresholds.py``, ``timing.py``, ``sequences.py``,
``parties.py``); ``graph.py`` joins the counterparty summaries of many ledgers into one flow graph.
docs/ledger.md says what each test can and cannot show.
"""
