"""A technician's day as ordered stops (PLN-2)."""
