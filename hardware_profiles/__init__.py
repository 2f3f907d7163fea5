"""Hardware profiles: data, not code. One TOML file per target, each constant with its source.

Installed as ``neurodeploy.hardware_profiles`` package data; read them through
``neurodeploy.energy.profiles``.
"""
