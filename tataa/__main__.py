"""`python -m tataa`: the command-line interface."""

import sys

from tataa.cli import main

sys.exit(main())
