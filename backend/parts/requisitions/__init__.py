"""Requisitions (rule PRT-3): parts requested for a job, approved, issued to a van, returned unused (PRT-6)."""
