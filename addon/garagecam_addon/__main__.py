"""`python -m garagecam_addon`: the add-on's command (the image's CMD)."""

from __future__ import annotations

import sys

from .main import main

if __name__ == "__main__":
    sys.exit(main())
