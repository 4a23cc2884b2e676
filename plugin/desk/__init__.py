"""The merchant's desk: finding a shop's incidents and acting on them (verdicts, notes, words to the customer)."""
