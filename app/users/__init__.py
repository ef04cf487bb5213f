"""Admin users of an organisation: passwords, lock-out after failed logins, sessions."""
