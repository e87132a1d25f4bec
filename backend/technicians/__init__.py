"""Technicians: who they are, where they are based, what they can do, where they were last seen."""
