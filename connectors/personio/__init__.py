"""Personio: people and absences over Personio's API v1."""
