"""The action's entry point: hand the arguments and the environment to retrain."""

import os
import sys

from retrain.cli.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], os.environ))
