"""The reel release and the wire protocol version."""

VERSION = "0.1.0"

# Bumped whenever the Envelope or the bootstrap messages (Hello) change their
# encoding: two actors agree on the protocol before they can compare schemas.
PROTOCOL_VERSION = 1
