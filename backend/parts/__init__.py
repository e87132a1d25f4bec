"""Spare parts: the catalogue (and, later, stock, requisitions and old-part returns)."""
