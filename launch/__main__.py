"""``python -m launch`` is ``reel``."""

from ._entry import main

raise SystemExit(main())
