import sys

from specsvc.cli.main import main

sys.exit(main())
