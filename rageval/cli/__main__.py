"""``python -m rageval.cli``."""
import sys

from rageval.cli import main

sys.exit(main())
