"""The built-in commands of the ``dftk`` CLI, each loaded only when used."""
