"""Enclava plugin SDK."""
