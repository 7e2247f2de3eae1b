"""The scanning discipline: YARA rules (``yara_rules.py``) and indicators (``indicators.py``) over every file
and over the raw media; ``command.py`` is ``dftk scan``."""
