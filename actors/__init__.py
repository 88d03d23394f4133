"""reel's actor runtime: processes that exchange msgspec messages over ZeroMQ.

Public names: the two drivers an implementation subclasses, its parameter
base, the runtime's errors, and the schema module.
"""

from . import schema
from ._actor import Actor, NoParams
from ._async import AsyncActor
from ._blocking import BlockingActor
from ._errors import ActorStopped, BindError, HandshakeRefused, LinkGap, NotConnected, PeerLost, ReelError
from ._node import LAUNCHER, CurveKeys, Node
from ._spec import ActorSpec, PeerSpec
from ._version import PROTOCOL_VERSION, VERSION

__version__ = VERSION

__all__ = [
    "LAUNCHER",
    "PROTOCOL_VERSION",
    "VERSION",
    "Actor",
    "ActorSpec",
    "ActorStopped",
    "AsyncActor",
    "BindError",
    "BlockingActor",
    "CurveKeys",
    "HandshakeRefused",
    "LinkGap",
    "NoParams",
    "Node",
    "NotConnected",
    "PeerLost",
    "PeerSpec",
    "ReelError",
    "schema",
]
