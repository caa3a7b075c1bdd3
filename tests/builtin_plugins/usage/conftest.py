"""Fixture ``stack``: the usage plugin's full gateway on SQLite+memory and PostgreSQL+Redis;
``cluster_stack``: the same on PostgreSQL and a real three-master Redis Cluster."""

from support.usage import cluster_stack, stack

__all__ = ["cluster_stack", "stack"]
