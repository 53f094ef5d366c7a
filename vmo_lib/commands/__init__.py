"""Sub-commands of ``vmo``; each module has ``register(subparsers)``. See :mod:`vmo_lib.cli`."""
