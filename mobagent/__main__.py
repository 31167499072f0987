import sys

from mobagent.cli import main

sys.exit(main())
