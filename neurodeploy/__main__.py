"""``python -m neurodeploy`` runs the CLI."""

import sys

from neurodeploy.cli.main import main

sys.exit(main())
