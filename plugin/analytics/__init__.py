"""Analytics: what went wrong, what it cost and what to fix, from the shop's own incidents and orders."""
