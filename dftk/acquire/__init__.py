"""Imaging: a source device or file copied to raw, split raw or E01 with its hashes, unreadable sectors
zero-filled and logged, resumable; and verifying an image against its stored hashes or its log."""
