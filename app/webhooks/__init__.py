"""Webhooks: signed payment events in, signed timeline events out."""
