"""Xinfang shared kernel: event contracts, storage, messaging and the CLI.

Every service imports from here; no service imports another service.
"""
