"""Matching work packages with partner firms: explained scores (scoring), the global assignment
(assignment), and the loading of their inputs from the database in a few queries (candidates).

`scoring` and `assignment` are pure: plain values in, plain values out, no database.
"""
