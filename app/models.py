"""Every table, imported in one place so migrations and tests see the whole schema."""

from app.clock import TestClockState
from app.customers.models import Contact, Customer
from app.disputes.models import Dispute
from app.dunning.models import SendLog, SentMessage
from app.idempotency.models import IdempotentRequest
from app.invoices.models import Invoice
from app.notices.models import Notice, Rating
from app.organisations.models import ApiKey, Organisation
from app.payments.models import Payment
from app.portal.models import FormSubmission
from app.promises.models import Instalment, PaymentPlan, Promise
from app.replies.models import Reply
from app.templates_store.models import TemplateVersion
from app.timeline.models import Event
from app.users.models import User
from app.webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint, WebhookReceipt
from app.worklist.models import WorklistItem

__all__ = [
    "ApiKey",
    "Contact",
    "Customer",
    "DeliveryAttempt",
    "Dispute",
    "Instalment",
    "Notice",
    "PaymentPlan",
    "Promise",
    "Rating",
    "Reply",
    "Event",
    "IdempotentRequest",
    "FormSubmission",
    "Invoice",
    "Organisation",
    "Payment",
    "SendLog",
    "SentMessage",
    "TemplateVersion",
    "TestClockState",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookReceipt",
    "WorklistItem",
]
