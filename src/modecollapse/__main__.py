from modecollapse.cli import main

raise SystemExit(main())
