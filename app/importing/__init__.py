"""Bulk import of customers and invoices from a CSV file (`politely import invoices`)."""
