"""``python -m newsclean``: the same app as the ``newsclean`` command."""

import sys

from newsclean.tools.cli import main

sys.exit(main())
