"""Placeholder replaced by the export service."""
