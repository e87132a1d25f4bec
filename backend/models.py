"""Imports every model so the metadata (for Alembic and tests) is complete."""

from backend.accounts.models import LoginThrottle, RefreshToken, User, UserRole
from backend.audit.models import AuditEntry
from backend.callbacks.models import Callback, CallbackAttempt
from backend.customers.models import Customer, Unit
from backend.db import Base
from backend.dispatch.models import (Communication, Deadline, DispatchDecision, Job, JobTechnician, ServiceRequest,
                                     ServiceRequestCounter, SlaPolicy)
from backend.duties.models import SchedulerLease
from backend.fieldwork.models import JobEvent
from backend.idempotency import IdempotencyRecord
from backend.media.models import Media
from backend.notifications.models import Notification, NotificationRead
from backend.parts.models import (FreightCharge, Installation, LedgerEntry, OldPartObligation, Part, Receipt,
                                  ReceiptLine, Requisition, RequisitionLine, SerialUnit, StockBalance, StockLocation,
                                  SupplierClaim, Transfer, TransferLine, WriteOff)
from backend.reports.models import (CompensationLine, FieldReport, JobPhoto, PaidServiceApproval,
                                    ReportPartLine)
from backend.stations.models import Station
from backend.technicians.models import Technician, TechnicianSkill
from backend.webhooks.models import Webhook, WebhookDelivery

__all__ = ["AuditEntry", "Base", "Communication", "CompensationLine", "Customer", "Deadline", "DispatchDecision",
           "FieldReport", "IdempotencyRecord", "Job", "JobEvent", "JobPhoto", "JobTechnician", "LedgerEntry", "Media",
           "Notification", "NotificationRead", "PaidServiceApproval", "Part", "Receipt", "ReceiptLine",
           "RefreshToken", "ReportPartLine", "SchedulerLease", "SerialUnit", "ServiceRequest", "ServiceRequestCounter",
           "SlaPolicy", "Station", "StockBalance", "StockLocation", "Technician", "TechnicianSkill", "Transfer",
           "TransferLine", "Unit", "User", "UserRole", "Webhook", "WebhookDelivery",
           # parts flow (issue 5)
           "FreightCharge", "Installation", "OldPartObligation", "Requisition", "RequisitionLine", "SupplierClaim",
           "WriteOff",
           # callbacks (issue 6)
           "Callback", "CallbackAttempt",
           # sessions and sign-in throttling (issue 10)
           "LoginThrottle"]
