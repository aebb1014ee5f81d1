"""hksync's benchmarks: every performance claim measured beside its baseline, in one run.

`make bench` (``python -m bench``) runs six sections against one PostgreSQL and moto, prints a
table and writes docs/benchmarks.md with its charts. The machine this runs on is shared and
noisy, so no figure stands alone: each is a ratio against a baseline measured in the same
process, interleaved with it, within the same minute, and states the spread (min, median, max)
of its rounds, so that a reader can tell noise from a change. Benchmarks are not tests: nothing
here asserts a time; targets are reported as met or missed, with by how much.
"""
