"""What Redress knows about an order and the time it is judged in. Pure: no Flask, database, Redis or platform."""
