"""Admin pages under /admin: login, templates, invoices, worklist, dashboard, outbox."""
