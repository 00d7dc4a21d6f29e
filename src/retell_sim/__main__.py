"""`python -m retell_sim`: serve the simulator (options: `python -m retell_sim --help`)."""

from retell_sim.cli import main

raise SystemExit(main())
