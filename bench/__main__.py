"""`python -m bench`: the standard scale benchmark (bench/scale.py), writes bench/RESULTS.md."""

from bench.scale import main

raise SystemExit(main())
