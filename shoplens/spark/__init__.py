"""shoplens on Apache Spark (issue 14): the dbt-spark ``session`` target and the prediction jobs.

* :mod:`shoplens.spark.session`: checks that Java and pyspark are present
  (one message saying what to install), builds the local Spark session the
  ``spark`` target of profiles.yml uses, and registers the project's SQL
  functions on it (the Spark twins of shoplens/duckdb_plugin.py).
* ``python -m shoplens.spark dbt <dbt args>``: dbt on the ``spark`` target, in
  this process, with those functions registered.
* ``python -m shoplens.spark predict``: the prediction tables on Spark
  (see :mod:`shoplens.spark.predict`).
"""
