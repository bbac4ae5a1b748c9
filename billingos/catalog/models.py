"""Placeholder: the catalog models land with the catalog work."""

__all__: list[str] = []
