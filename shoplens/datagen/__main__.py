"""``python -m shoplens.datagen``: see shoplens.datagen.cli.main."""

from shoplens.datagen.cli import main

raise SystemExit(main())
