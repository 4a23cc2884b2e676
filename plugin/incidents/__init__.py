"""Detection and verdicts (pure), and the incident JSON."""
