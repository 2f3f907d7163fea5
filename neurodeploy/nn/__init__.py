"""Surrogate-gradient training layers whose forward pass is the IR's CUBA-LIF semantics."""
