"""Placeholder replaced by the import service."""
