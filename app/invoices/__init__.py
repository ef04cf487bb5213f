"""Invoices pushed by the invoicing system, and their reminder state."""
