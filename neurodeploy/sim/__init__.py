"""Bit-accurate, batched simulation of a Graph (float and Loihi fixed point) in torch."""
