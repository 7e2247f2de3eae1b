"""dftk: a digital forensics toolkit.

The core (this package) knows evidence, plugins, the pipeline and the case store; every forensic
discipline is a plugin registered through the ``dftk.plugins`` entry-point group.
"""

__version__ = "0.1.0"
