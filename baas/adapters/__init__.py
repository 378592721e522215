"""Adapters of the core's ports to outside services."""
