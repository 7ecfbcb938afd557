"""``python -m rageval.cli``."""
import sys

from . import main

sys.exit(main())
