"""Payments recorded against invoices; a full payment stops the reminders."""
