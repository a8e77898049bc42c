"""Every model, importable from one place (Alembic and the shell need them all loaded)."""
from kq.models.audit import AuditEvent
from kq.models.base import utcnow
from kq.models.campaign import (Campaign, CampaignGift, CampaignMember, CampaignPhase,
                                CampaignTouch)
from kq.models.checklist import ChecklistRun, MessageTemplate
from kq.models.contact import Contact, Task
from kq.models.customer import Customer, CustomerSearchKey, CustomerTag
from kq.models.engagement import (Complaint, ComplaintStep, Gift, GiftHandout, GiftStockMove,
                                  Promise)
from kq.models.imports import ImportJob
from kq.models.pageversion import PageVersion
from kq.models.messaging import MessageBatch, MessageScript, OutboundMessage
from kq.models.report import DormantSnapshot, Report
from kq.models.security import SignInAttempt, UserSession
from kq.models.service import CardMove, CareNote, PointsEntry, PrepaidCard, Visit
from kq.models.staffing import Assignment, LedgerEntry, ReactivationOffer
from kq.models.store import Store
from kq.models.user import BEAUTICIAN, MANAGER, OWNER, ROLES, User

__all__ = [
    "AuditEvent", "Assignment", "Campaign", "CampaignGift", "CampaignMember", "CampaignPhase", "CampaignTouch", "BEAUTICIAN", "CardMove", "CareNote", "ChecklistRun", "MessageTemplate", "Complaint", "ComplaintStep", "Contact",
    "Customer", "CustomerSearchKey", "CustomerTag", "DormantSnapshot", "Gift", "GiftHandout", "GiftStockMove", "ImportJob", "MessageBatch", "MessageScript", "OutboundMessage", "LedgerEntry", "MANAGER", "OWNER",
    "PageVersion", "PointsEntry", "PrepaidCard", "Promise", "ReactivationOffer", "Report", "ROLES", "SignInAttempt", "Store", "Task", "User", "UserSession", "Visit", "utcnow",
]
