"""Tests of the Personio connector."""
