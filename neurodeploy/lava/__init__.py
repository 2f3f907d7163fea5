"""Lava backend: compile a Graph to lava-nc processes, run it, netx export (Lava imported lazily)."""
