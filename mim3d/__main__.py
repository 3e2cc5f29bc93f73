import sys

from mim3d.cli import main

sys.exit(main())
