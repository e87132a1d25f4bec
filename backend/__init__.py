"""Onsite: field-service dispatch and mobile-technician backend."""

from backend.app import create_app

__all__ = ["create_app"]
