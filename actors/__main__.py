"""``python -m actors``: one actor process (see actors._process)."""

import logging
import os
import sys

from ._process import main

code = main()
# The actor has said Exited and closed its sockets. What is left is freeing
# its state, which for a logger holding a long log (a million parsed
# checkpoints) takes seconds, past the launcher's stop grace: it was killed
# and reported after a replay that matched. Nothing needs that work done.
logging.shutdown()
for stream in (sys.stdout, sys.stderr):
    if stream is None:  # started with it closed: nothing was written to it
        continue
    try:
        stream.flush()
    except (OSError, ValueError):
        pass  # a reader gone, or a stream closed: nothing more can reach it
os._exit(code if isinstance(code, int) else 1)
