"""``python -m djrun``: run the installed djrun binary with the same arguments."""

import os
import subprocess
import sys

from djrun._find_djrun import find_djrun_bin


def main() -> None:
    try:
        djrun = find_djrun_bin()
    except FileNotFoundError as e:
        sys.stderr.write(f"error: {e}\n")
        sys.exit(2)
    argv = [djrun, *sys.argv[1:]]
    if sys.platform == "win32":
        # Windows has no exec: run it as a child and pass its exit code on.
        sys.exit(subprocess.call(argv))
    os.execv(djrun, argv)


if __name__ == "__main__":
    main()
