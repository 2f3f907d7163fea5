"""Map a Graph onto a hardware profile: cores, chips, per-core use, fit errors."""
