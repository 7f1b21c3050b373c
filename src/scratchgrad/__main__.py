"""`python -m scratchgrad ...` runs the command line (see scratchgrad.cli)."""
import sys

from .cli import main

sys.exit(main())
