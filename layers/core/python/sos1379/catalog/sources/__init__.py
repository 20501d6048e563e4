"""One adapter per public source, each parsing that source's own format and paging."""
from .base import HttpSource, Page, SourceAdapter, SourceRejected, SourceThrottled, SourceUnavailable
from .library import LibraryAdapter
from .ntis import NtisAdapter
from .patents import PatentsAdapter
from .zeus import ZeusAdapter

__all__ = ["HttpSource", "LibraryAdapter", "NtisAdapter", "Page", "PatentsAdapter", "SourceAdapter",
           "SourceRejected", "SourceThrottled", "SourceUnavailable", "ZeusAdapter"]
