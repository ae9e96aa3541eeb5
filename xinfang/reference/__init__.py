"""Reference data every service reads: the national category list and the DEMO county.

The demo county (示范县, division codes starting 9999 — no real province uses 99) exists so a new
installation has something to click through; it is clearly marked ``demo`` everywhere.
"""
from xinfang.reference.categories import CATEGORIES, category_leaf, is_leaf
from xinfang.reference.divisions import DEMO, Division, Unit, division, divisions, units

__all__ = ["CATEGORIES", "category_leaf", "is_leaf", "DEMO", "Division", "Unit", "division", "divisions", "units"]
