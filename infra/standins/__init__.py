"""Stand-ins for the public catalog sources (ZEUS, NTIS, technology-transfer listings, the R&D
special-zone library): deterministic generated records served in each source's real format.

    handle = start_standins("small")      # or "medium", "full"; port=0 picks free ports
    handle.urls   # {"zeus": "http://127.0.0.1:PORT", "ntis": ..., "patents": ..., "library": ...}
    handle.env()  # CATALOG_SOURCE_*_URL / *_KEY variables for the sync function
    handle.mutate(0.01)  # change 1 % of records, withdraw 0.1 %
    handle.stop()
"""
from .servers import StandinHandle, start_standins

__all__ = ["StandinHandle", "start_standins"]
