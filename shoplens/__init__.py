"""shoplens: customer analytics for online shops on dbt + DuckDB.

The package holds everything that is not SQL: one subpackage per model family
(`shoplens.clv`, `shoplens.forecast`, `shoplens.propensity`), each entered from
dbt through its `pipeline` module; the shared pieces (`shoplens.inputs`,
`shoplens.settings`, `shoplens.evaluation`, `shoplens.status`); the synthetic
shop generator (`shoplens.datagen`); and test/bench stand-ins
(`shoplens.testing`). Layout rules: docs/package_layout.md.
"""

__version__ = "0.1.0"
