"""Imports every model so the metadata (for Alembic and tests) is complete."""

from backend.accounts.models import RefreshToken, User, UserRole
from backend.audit.models import AuditEntry
from backend.customers.models import Customer, Unit
from backend.db import Base
from backend.idempotency import IdempotencyRecord
from backend.parts.models import Part
from backend.stations.models import Station
from backend.technicians.models import Technician, TechnicianSkill

__all__ = ["AuditEntry", "Base", "Customer", "IdempotencyRecord", "Part", "RefreshToken", "Station", "Technician",
           "TechnicianSkill", "Unit", "User", "UserRole"]
