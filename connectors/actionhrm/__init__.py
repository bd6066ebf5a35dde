"""ActionHRM connector (HTTP Basic, JSON, a per-connection adjustable profile)."""
