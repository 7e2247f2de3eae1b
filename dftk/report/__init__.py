"""Reports rendered from a case store: JSON (the signed record), HTML, CASE/UCO, DFXML and CSV."""
