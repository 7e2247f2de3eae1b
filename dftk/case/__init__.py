"""The case: one SQLite store per case folder (every query of it is in ``store.py`` and ``queries.py``), the
hash-chained custody log, the seals of the evidence, and a recorded run (``run.py``: the engine's stream
into the store between two seals)."""
