from salprep.cli import main

raise SystemExit(main())
