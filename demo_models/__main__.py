import sys

from demo_models.cli import main

sys.exit(main())
