"""The verification site: what Pages would publish, on one origin, and the page's only way out.

The static server doubles as the browser context's HTTP proxy. Chromium sends every request of
that context through it, loopback included (``<-loopback>`` in the bypass list), so whatever the
page tries (fetch, XHR, a WebSocket as a ``CONNECT`` tunnel, workers, images, frames,
navigation) arrives here first. A request for the site's own origin is served from disk;
anything else is answered 403 and recorded. Nothing is ever forwarded: this server opens no
outgoing connection, so no other listener can receive a byte from the page.

Only what ``actions/upload-pages-artifact`` publishes is served: no dot-file or dot-folder
(``.git/``, ``.github/``, ``.env``), nothing a symlink leads to outside the root, no directory
listings (Pages has none).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

BLOCKED_MESSAGE = "blocked: the page under verification may reach only its own site"


@dataclass
class Site:
    """A served site: its exact origin, its proxy settings, and every request it refused."""

    root: Path
    port: int
    blocked: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.origin + "/"

    @property
    def proxy(self) -> dict[str, str]:
        """Playwright's per-context proxy settings that route the whole context through here.

        ``<-loopback>`` cancels Chromium's implicit bypass of localhost and 127.0.0.0/8; recent
        Playwright adds it by itself, saying it here keeps the seal on older ones too.
        """
        return {"server": self.origin, "bypass": "<-loopback>"}

    def is_own(self, url: str) -> bool:
        """True only for this site's exact origin (scheme, host and port)."""
        try:
            parts = urlsplit(url)
            return (parts.scheme, parts.hostname, parts.port) == ("http", "127.0.0.1", self.port)
        except ValueError:
            return False


def published(root: Path, url_path: str) -> Path | None:
    """The file or folder Pages would serve for `url_path`, or None (hidden, outside, absent)."""
    path = unquote(urlsplit(url_path).path)
    if "\x00" in path or "\\" in path:
        return None
    parts = [p for p in path.split("/") if p]
    # A leading dot hides ".git", ".github", ".env" and also stops "." and ".." traversal.
    if any(p.startswith(".") for p in parts):
        return None
    base = root.resolve()
    target = base.joinpath(*parts).resolve()
    if not target.is_relative_to(base) or not target.exists():
        return None
    return target


class _SiteHandler(SimpleHTTPRequestHandler):
    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        self.site = site  # set first: the base class handles the request inside __init__
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def parse_request(self) -> bool:
        """Refuse (403, recorded) every proxied request that is not for the site's own origin."""
        if not super().parse_request():
            return False
        if self.command == "CONNECT":  # HTTPS and every WebSocket tunnel through a proxy
            return self._refuse(f"CONNECT {self.path}")
        if "://" not in self.path:
            return True  # origin-form: a direct request to the server, not the browser's
        if not self.site.is_own(self.path):
            return self._refuse(self.path)
        parts = urlsplit(self.path)
        self.path = parts.path + (f"?{parts.query}" if parts.query else "")
        return True

    def _refuse(self, shown: str) -> bool:
        self.site.blocked.append(shown)
        self.close_connection = True
        self.send_error(403, BLOCKED_MESSAGE)
        return False

    def send_head(self) -> Any:
        if published(self.site.root, self.path) is None:
            self.send_error(404, "not published")
            return None
        return super().send_head()

    def list_directory(self, path: Any) -> Any:
        self.send_error(404, "not published")  # Pages never lists a folder
        return None


@contextlib.contextmanager
def serve_site(root: Path) -> Iterator[Site]:
    """Serve `root` on 127.0.0.1 with an ephemeral port, as site and sealing proxy."""
    site = Site(Path(root), 0)
    handler = functools.partial(_SiteHandler, directory=str(root), site=site)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    site.port = server.server_address[1]  # known once bound; no request can arrive before
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
