"""Imports every model so the metadata (for Alembic and tests) is complete."""

from backend.accounts.models import LoginThrottle, RefreshToken, User, UserRole
from backend.audit.models import AuditEntry
from backend.callbacks.models import Callback, CallbackAttempt
from backend.costs.models import CostAllocation, Expense
from backend.customers.models import Customer, Unit
from backend.db import Base
from backend.dispatch.models import (Communication, Deadline, DispatchDecision, Job, JobTechnician, ServiceRequest,
                                     ServiceRequestCounter, SlaPolicy)
from backend.duties.models import SchedulerLease
from backend.fieldwork.models import JobEvent
from backend.idempotency import IdempotencyRecord
from backend.kpis.facts import FACT_TABLES  # the flush hook keeping the KPI facts
from backend.kpis.models import DeadlineFact, JobFact, RatingFact, RequestFact
from backend.media.models import Media
from backend.notifications.models import Notification, NotificationRead
from backend.planning.plans.models import DispatchPlan, PlanItem
from backend.parts.models import (FreightCharge, Installation, LedgerEntry, OldPartObligation, Part, Receipt,
                                  ReceiptLine, Requisition, RequisitionLine, SerialUnit, StockBalance, StockLocation,
                                  SupplierClaim, Transfer, TransferLine, WriteOff)
from backend.quality.models import Investigation
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
           "LoginThrottle",
           # investigation and responsibility (issue 15)
           "Investigation",
           # service costs (issue 15)
           "CostAllocation", "Expense",
           # KPI facts (issue 13)
           "DeadlineFact", "FACT_TABLES", "JobFact", "RatingFact", "RequestFact",
           # dispatch plans (issue 14)
           "DispatchPlan", "PlanItem"]
