"""Imports every model so the metadata (for Alembic and tests) is complete."""

from backend.accounts.models import RefreshToken, User, UserRole
from backend.audit.models import AuditEntry
from backend.customers.models import Customer, Unit
from backend.db import Base
from backend.dispatch.models import (Communication, Deadline, DispatchDecision, Job, JobTechnician, ServiceRequest,
                                     ServiceRequestCounter, SlaPolicy)
from backend.duties.models import SchedulerLease
from backend.idempotency import IdempotencyRecord
from backend.notifications.models import Notification, NotificationRead
from backend.parts.models import (LedgerEntry, Part, Receipt, ReceiptLine, SerialUnit, StockBalance, StockLocation,
                                  Transfer, TransferLine)
from backend.stations.models import Station
from backend.technicians.models import Technician, TechnicianSkill
from backend.webhooks.models import Webhook, WebhookDelivery

__all__ = ["AuditEntry", "Base", "Communication", "Customer", "Deadline", "DispatchDecision", "IdempotencyRecord",
           "Job", "JobTechnician", "LedgerEntry", "Notification", "NotificationRead", "Part", "Receipt", "ReceiptLine",
           "RefreshToken", "SchedulerLease", "SerialUnit", "ServiceRequest", "ServiceRequestCounter", "SlaPolicy",
           "Station", "StockBalance", "StockLocation", "Technician", "TechnicianSkill", "Transfer", "TransferLine",
           "Unit", "User", "UserRole", "Webhook", "WebhookDelivery"]
