"""Collection analytics: pure metric formulas (metrics) and the queries that feed them (queries)."""
