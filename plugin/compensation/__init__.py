"""Compensation rules and the default policy (pure); the ledger that moves money exactly once; the preview."""
