"""djrun: take an existing Django project to a Google Cloud Run deployment.

The package is the ``djrun`` binary, installed as a script beside this module;
``python -m djrun`` runs it.
"""

from djrun._find_djrun import find_djrun_bin

__all__ = ["find_djrun_bin"]
