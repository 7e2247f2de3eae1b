"""Volumes and file systems through The Sleuth Kit (the only pytsk3 importers): the fls-equal walk, file
content, unallocated space, and the views built on them (listing, extraction, timeline, DFXML)."""
