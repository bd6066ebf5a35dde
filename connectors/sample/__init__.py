"""Sample HR data: a bundled demo roster, so a new install can sync at once.

No HR system is contacted. See ``roster.py`` for what the roster contains.
"""
