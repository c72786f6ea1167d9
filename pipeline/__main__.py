"""``python -m pipeline``."""

from .cli import main

raise SystemExit(main())
