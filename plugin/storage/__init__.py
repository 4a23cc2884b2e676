"""Plumbing: the database, the models, migrations, secrets at rest, Redis queues and mail."""
