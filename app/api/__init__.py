"""The REST API under /api/v1: dependencies and the router that gathers the domains."""
