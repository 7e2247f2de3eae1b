"""dftk's built-in plugins, one forensic discipline per package (hashing, scanning, metadata, carving).

Installed as the ``dftk_plugins`` package and registered through the ``dftk.plugins`` entry-point group,
exactly as an outside plugin is: the core never imports these modules by name.
"""
