"""Operation counts (MAC/AC) from simulated activity and energy from hardware profiles."""
