"""Reference datasets (digits, Randman) and the on-disk ``.npz`` dataset format."""
