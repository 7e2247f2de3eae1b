"""Writing Expert Witness (E01) images that ewfverify accepts; libewf reads them (``dftk.evidence``)."""
