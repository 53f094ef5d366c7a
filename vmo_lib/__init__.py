"""VMO Workbench: value management for IT investments."""
__version__ = "0.1.0"
