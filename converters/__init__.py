"""Frontends: one module per source framework, each emitting a ``neurodeploy.ir.Graph``.

Installed as ``neurodeploy.converters`` (pyproject's package-dir maps this folder).
"""
