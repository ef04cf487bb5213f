"""Replies from customers: inbound email and portal messages."""
