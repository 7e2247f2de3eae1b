"""The metadata disciplines: image (EXIF, GPS, XMP, IPTC, ICC and image-forensics checks), audio (tags and
stream properties), document (PDF, OOXML, ODF, OLE2) and thumbnails for the report; ``command.py`` is
``dftk meta``."""
