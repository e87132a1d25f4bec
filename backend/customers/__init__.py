"""Customers and their units (the equipment under service and warranty)."""
