"""Shared research equipment (장비활용): find it, see its fee and free slots, reserve it from a case.

Submodules: ``availability`` (the scheduled calendar sync from ZEUS and the free-slot arithmetic),
``service`` (search, reservation and its answers: what the API calls), ``ics`` (the calendar file).
Importing the package is cheap: nothing here does I/O at import time."""
