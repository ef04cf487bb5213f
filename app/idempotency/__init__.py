"""Idempotency-Key: a repeated POST with the same key gets the first answer again."""
