"""Admission: who sits an exam — sampling participants by rank, admission tickets and their PINs."""
