"""From platforms to incidents: the webhook inbox, the drain, the sweep and reconciliation."""
