"""Rendered pages kept for the next request: an LRU of PNGs bounded by their total size.

Keyed by what decides the picture — the original's sha256, the page, the highlighted span (or none),
the dpi and, for a highlight, whether OCR line boxes drew it — so a changed original never gets an
old page. One cache serves the whole process
(`PAGE_CACHE`); the source library is opened per request, the renders outlive it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from rag.source_view.pdf_page import PageImage

MAX_CACHE_BYTES = 32 * 1024 * 1024

# (content sha256, page, span on the page or None, dpi[, highlighted from OCR line boxes])
PageKey = tuple[str, int, tuple[int, int] | None, int] | tuple[str, int, tuple[int, int], int, bool]


class PageCache:
    """At most `max_bytes` of PNGs; the least recently used go first. A page larger than the whole
    cache is returned but not kept. Thread-safe (the web server answers several requests at once)."""

    def __init__(self, max_bytes: int = MAX_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._pages: OrderedDict[Hashable, PageImage] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """The PNG bytes held now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._pages)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._pages

    def get(self, key: Hashable) -> PageImage | None:
        with self._lock:
            found = self._pages.get(key)
            if found is not None:
                self._pages.move_to_end(key)
            return found

    def put(self, key: Hashable, image: PageImage) -> None:
        size = len(image.png)
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self._bytes -= len(old.png)
            if size > self.max_bytes:
                return
            self._pages[key] = image
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._pages.popitem(last=False)
                self._bytes -= len(evicted.png)

    def get_or_render(self, key: Hashable, render: Callable[[], PageImage]) -> PageImage:
        """The cached page, or `render()`'s, kept for next time (rendering happens outside the lock)."""
        found = self.get(key)
        if found is None:
            found = render()
            self.put(key, found)
        return found


PAGE_CACHE = PageCache()
