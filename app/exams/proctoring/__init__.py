"""Proctoring: incidents, absences, attempt events and the live monitor."""
