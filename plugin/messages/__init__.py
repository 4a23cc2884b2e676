"""Telling the customer and the team: what is promised and when, in the shop's own words and hours."""
