"""Reminder templates edited by admins: versions in the database, files as the fallback."""
