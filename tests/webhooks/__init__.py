"""Tests of webhooks in and out."""
