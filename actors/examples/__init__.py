"""Small actors that exercise the runtime: the bundled chain, an echo server,
an idle actor, and the transport benchmark's client."""

from .chain import Relay, Sink, Source, item_data
from .echo import Echo, Idle

__all__ = ["Echo", "Idle", "Relay", "Sink", "Source", "item_data"]
