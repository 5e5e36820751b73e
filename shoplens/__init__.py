"""shoplens: customer analytics for online shops on dbt + DuckDB.

The package holds everything that is not SQL: the synthetic shop generator
(`shoplens.datagen`), the shared evaluation helpers (`shoplens.evaluation`),
and the model code that the thin dbt Python models call (`shoplens.clv`,
`shoplens.forecast`, `shoplens.propensity`).
"""

__version__ = "0.1.0"
