"""Customer pages behind signed links: pay, reply, promise, plan, dispute, stop emails."""
