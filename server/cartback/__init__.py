"""Cartback: a self-hosted 'continue where you left off' block for empty shopping carts."""

__version__ = "0.1.0"
