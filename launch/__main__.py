"""``python -m launch`` is ``reel``."""

from .cli import main

raise SystemExit(main())
