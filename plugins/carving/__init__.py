"""The carving discipline: files recovered from raw bytes by their structure, with no file-system metadata.

Candidate headers are found with Hyperscan in one read of the media; each is validated by a structure-aware
validator that finds the real end of the file (``formats.py`` declares every type); a file whose structure
breaks part-way is tried as two fragments (``fragments.py``); files inside other files are reported as
embedded in them. ``recovery.py`` carves an evidence item end to end on the engine's workers; the ``dftk
carve`` command (``command.py``) writes the files and a manifest, and the plugin (``plugin.py``) records the
same results as findings of a ``dftk run``.
"""
