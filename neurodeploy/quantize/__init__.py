"""Post-training quantization of a float Graph to Loihi's integer formats."""
