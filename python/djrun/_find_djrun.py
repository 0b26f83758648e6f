"""Find the djrun binary that the wheel installed as a script."""

import os
import sys
import sysconfig


def _user_scheme() -> str:
    if sys.version_info >= (3, 10):
        return sysconfig.get_preferred_scheme("user")
    if os.name == "nt":
        return "nt_user"
    if sys.platform == "darwin" and sys._framework:  # type: ignore[attr-defined]
        return "osx_framework_user"
    return "posix_user"


def _candidate_dirs() -> list:
    """Where the wheel's script may be, the folders tied to this copy of the package first."""
    dirs = []
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # A virtualenv, `pip install --user` or `--prefix DIR`: DIR/lib/pythonX.Y/site-packages/djrun/
    # and DIR/bin/ (DIR/Lib/site-packages/djrun/ and DIR/Scripts/ on Windows).
    if os.path.basename(here) == "site-packages":
        lib = os.path.dirname(here)
        if os.name == "nt":
            dirs.append(os.path.join(os.path.dirname(lib), "Scripts"))
        else:
            dirs.append(os.path.join(os.path.dirname(os.path.dirname(lib)), "bin"))
    # `pip install --target DIR`: DIR/djrun/ and DIR/bin/.
    dirs.append(os.path.join(here, "bin"))
    # The running interpreter's scripts folder, then the user scheme's.
    dirs.append(sysconfig.get_path("scripts"))
    dirs.append(sysconfig.get_path("scripts", scheme=_user_scheme()))
    return dirs


def find_djrun_bin() -> str:
    """The path of the installed djrun binary; FileNotFoundError naming the folders searched."""
    exe = "djrun" + (sysconfig.get_config_var("EXE") or "")
    searched = []
    for folder in _candidate_dirs():
        if not folder or folder in searched:
            continue
        searched.append(folder)
        path = os.path.join(folder, exe)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        "the djrun binary is not in any of: " + ", ".join(searched) + "; reinstall djrun"
    )
