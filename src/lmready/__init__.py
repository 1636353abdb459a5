"""lmready: are two non-clustered Hyper-V hosts ready for live migration?"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lmready")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
