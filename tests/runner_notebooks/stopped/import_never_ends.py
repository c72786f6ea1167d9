"""Imported by 02_never.ipynb (and by its kernel's warm-up): the import never ends."""

import time

while True:
    time.sleep(0.1)
