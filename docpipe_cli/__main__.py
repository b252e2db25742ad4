"""`python -m docpipe_cli`."""

import sys

from docpipe_cli.main import main

sys.exit(main())
