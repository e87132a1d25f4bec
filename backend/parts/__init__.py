"""Spare parts, one sub-package per area (catalogue, stock, requisitions, old_parts, write_offs, claims, field_use),
each with the domain rooms (service.py, schemas.py, views.py); their tables share parts/models.py."""
