"""Notices: emails that answer a customer's own action (confirmations, thanks), sent promptly."""
