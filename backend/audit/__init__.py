"""Audit trail: who changed what, when, from which device, in which request."""
