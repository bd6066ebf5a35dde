"""hrsync's benchmark: ``python3 dev.py bench`` (or ``python -m bench``).

It syncs deterministic CSV rosters through the real CSV connector, planner
and applier, on SQLite or PostgreSQL, times each scenario in a process of
its own, puts django-import-export beside it on the same files, and writes
the table to docs/PERFORMANCE.md. It is run on demand, never by the tests.

``--personio N`` runs bench/personio.py instead: N people synced from a
stand-in Personio through the Personio connector, under Personio's rate
limits, timed against the floor those limits set.

``--xml N`` runs bench/xml_upload.py instead: an N-employee XML employee
file stored and processed through an XML upload connection as
``manage.py upload`` does (a first import, the same file again, a changed
file), with the parser's time and every scenario's peak memory.
"""
