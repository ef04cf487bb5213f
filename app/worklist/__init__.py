"""Everything that needs a human: calls, bounces, escalations, sends in doubt."""
