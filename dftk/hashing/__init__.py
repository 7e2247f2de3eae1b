"""Hashes: the algorithms dftk offers, several computed in one read, piecewise hashes, hashdeep's format
and audit."""
