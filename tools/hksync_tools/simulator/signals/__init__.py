"""One module per signal family: each turns a day or night plan into the samples it writes.

A day signal is called as ``signal(factory, day_plan)``, a night signal as
``signal(factory, sleep)``; the timeline calls them in a fixed order, because every sample's
values and UUID come from one random stream. A new sample type is a new function here and one
entry in the timeline's list (appended at the end, so the other types' output is unchanged).
"""
