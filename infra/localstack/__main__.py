"""``python -m infra.localstack``: the same as ``sos1379 up``."""
import sys

from infra.cli.stack import main_up

if __name__ == "__main__":
    sys.exit(main_up(sys.argv[1:]))
