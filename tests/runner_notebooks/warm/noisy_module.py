"""Imported by 02_noisy.ipynb: prints when imported."""

print("noisy_module: imported")
VALUE = 42
