"""Helpers for the Trustworthy AI Workbook.

Each module holds one idea, and the chapters import from them:

* :mod:`trustworthy_lib.data` -- checksummed loaders for the data pack in ``data/``;
* :mod:`trustworthy_lib.utils` -- device choice and explicit seeding;
* :mod:`trustworthy_lib.models` -- the small Fashion-MNIST CNN, its training loop and model cache.

Importing the package changes no global state: no seeds are set, no threads are
configured and nothing is downloaded. Call :func:`seed_everything` yourself.
"""

from trustworthy_lib.utils import chapter_seed, get_device, seed_everything

__all__ = ["chapter_seed", "get_device", "seed_everything"]
__version__ = "0.1.0"
