# shoplens: `make build` then `make test`.  See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := build

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DBT    := $(VENV)/bin/dbt
STAMP  := $(VENV)/.shoplens-installed

export DBT_PROFILES_DIR := $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export TF_CPP_MIN_LOG_LEVEL := 2
# dbt, pytest and scripts import the package from this checkout (not from
# whichever checkout the editable install in .venv points at).
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))

# Extra arguments for dbt, e.g. make build DBT_ARGS="--vars '{raw_data_dir: /data/export}'"
DBT_ARGS ?=
# Where `make test` builds its throw-away warehouse from generated dirty data.
TEST_DIR := target/ci

.PHONY: build env test pytest dbt-test lint bench plots sample docs clean lock publish dashboard browser test-browser fuzz \
	spark-env spark-build spark-predict test-spark sqlmesh sqlmesh-refresh sqlmesh-parity test-sqlmesh

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

env: $(STAMP)

## build: create .venv on first use, build the warehouse on the bundled sample, then publish serving.duckdb
build: $(STAMP)
	$(DBT) build $(DBT_ARGS) || { $(PY) -m shoplens.serving build-failed; exit 1; }
	$(PY) -m shoplens.serving publish

## publish: (re)publish serving.duckdb from the last successful dbt build
publish: $(STAMP)
	$(PY) -m shoplens.serving publish

## dashboard: the Streamlit dashboard on the serving database (http://localhost:8501)
DASHBOARD_PORT ?= 8501
dashboard: $(STAMP)
	$(VENV)/bin/streamlit run dashboard/app.py --server.headless true --server.port $(DASHBOARD_PORT) \
	    --browser.gatherUsageStats false

## browser: Debian's headless Chromium for the browser test (Playwright's own download is not used)
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

## test-browser: open every dashboard page in headless Chromium; screenshots into reports/dashboard/
test-browser: $(STAMP) browser
	$(PY) -m pytest -q -p no:cacheprovider tests/python/browser_dashboard.py

## test: the whole suite (pytest, dbt build on generated dirty data, sqlfluff)
test: $(STAMP) pytest dbt-test lint

# The SQLMesh parity suite (about 5 minutes) has its own target, test-sqlmesh, which
# .ci/run runs after make test: make test stays under 30 minutes on 2 cores.
pytest: $(STAMP)
	SHOPLENS_SQLMESH_TESTS=0 $(PY) -m pytest -q --durations=15

# Generated data is not the bundled sample: it needs a PII salt (any value in CI).
dbt-test bench: export SHOPLENS_PII_SALT := $(or $(SHOPLENS_PII_SALT),shoplens-ci-salt)
dbt-test: $(STAMP)
	rm -rf $(TEST_DIR) && mkdir -p $(TEST_DIR)
	$(PY) -m shoplens.datagen --customers 1500 --days 540 --products 60 --seed 7 \
	    --dirty-rate 0.03 --format csv --holdout-days 60 --out $(TEST_DIR)/raw
	@# as_of_date leaves the generator's 60-day holdout, so every model is
	@# evaluated on data after it; export_date is the end of the generated shop.
	$(PY) -c "import json; t = json.load(open('$(TEST_DIR)/raw/ground_truth.json')); \
	    print(json.dumps({'raw_data_dir': '$(CURDIR)/$(TEST_DIR)/raw', 'as_of_date': t['calibration_end_date'], \
	    'export_date': t['export_date']}))" > $(TEST_DIR)/vars.json
	DUCKDB_PATH=$(TEST_DIR)/ci.duckdb $(DBT) build --vars "$$(cat $(TEST_DIR)/vars.json)"
	@# CI publishes as make build does: the serving database of the dirty build must pass its checks.
	DUCKDB_PATH=$(TEST_DIR)/ci.duckdb $(PY) -m shoplens.serving publish
	DUCKDB_PATH=$(TEST_DIR)/ci.duckdb $(PY) scripts/check_idempotent.py --raw $(TEST_DIR)/raw \
	    --vars "$$(cat $(TEST_DIR)/vars.json)"

## sqlmesh: the whole project under SQLMesh (dbt SQL layer + native Python models in
## sqlmesh_project/) into sqlmesh_warehouse.duckdb; SHOPLENS_VARS='{"raw_data_dir": ...}'
## sets dbt vars. sqlmesh-refresh: rebuild everything from a new raw export
## (restatement). sqlmesh-parity: compare it with warehouse.duckdb. See docs/sqlmesh.md.
SQLMESH := $(VENV)/bin/sqlmesh -p . -p sqlmesh_project
sqlmesh sqlmesh-refresh sqlmesh-parity: export DBT_PROFILES_DIR := $(CURDIR)/sqlmesh_project
sqlmesh: $(STAMP)
	$(SQLMESH) plan --auto-apply --no-prompts

sqlmesh-refresh: $(STAMP)
	$(SQLMESH) plan --auto-apply --no-prompts --restate-model 'main.base_shop__*'

sqlmesh-parity: $(STAMP)
	$(PY) -m sqlmesh_project.parity $(or $(DUCKDB_PATH),warehouse.duckdb) $(or $(SQLMESH_DUCKDB_PATH),sqlmesh_warehouse.duckdb)
	$(SQLMESH) --gateway parity table_diff 'dbt.main.fct_orders:main.fct_orders' --on order_id

## test-sqlmesh: build a generated shop with dbt and with SQLMesh and compare every table (issue 13;
## .ci/run runs it after make test)
test-sqlmesh: $(STAMP)
	SHOPLENS_SQLMESH_TESTS=1 $(PY) -m pytest -q -p no:cacheprovider tests/python/test_sqlmesh_parity.py

## fuzz: every property-based suite (pytest marker `fuzz`) with many examples
## (FUZZ=1; FUZZ_EXAMPLES, default 200, sets how many). `make test` runs a few.
fuzz: $(STAMP)
	FUZZ=1 $(PY) -m pytest -q -m fuzz

lint: $(STAMP)
	$(VENV)/bin/ruff check shoplens python_models tests/python bench scripts dashboard sqlmesh_project config.py
	$(VENV)/bin/sqlfluff lint models analyses tests macros

## spark-env: Debian's Java 17 runtime for the spark target, when no java is on the PATH
spark-env:
	@command -v java >/dev/null || { apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless; }

# The Python models run on Spark as jobs of shoplens.spark.predict, not as dbt models.
SPARK_EXCLUDE := path:python_models+ resource_type:unit_test

## spark-build: the SQL layer and its tests on a local Spark session (target spark; docs/scale.md)
spark-build: $(STAMP) spark-env
	$(PY) -m shoplens.spark dbt build --exclude "$(SPARK_EXCLUDE)" $(DBT_ARGS)

## spark-predict: the prediction tables on Spark over the marts of the last spark-build,
## then the SQL models and tests downstream of them
spark-predict: $(STAMP) spark-env
	$(PY) -m shoplens.spark predict
	$(PY) -m shoplens.spark dbt build --select "path:python_models+" --exclude "path:python_models resource_type:unit_test" $(DBT_ARGS)

## test-spark: build generated data on DuckDB and on Spark and compare every mart and prediction table
test-spark: $(STAMP) spark-env
	SHOPLENS_SPARK_TESTS=1 $(PY) -m pytest -q -p no:cacheprovider tests/python/test_spark_parity.py tests/python/test_spark_propensity.py

## bench: scale benchmarks; figures go to reports/bench/. BENCH_ARGS for bench/run_all.py, e.g.
## make bench BENCH_ARGS="--only spark --spark-customers 100000" (Spark beside DuckDB at 100k)
BENCH_ARGS ?=
bench: $(STAMP)
	$(PY) bench/run_all.py $(BENCH_ARGS)

## plots: PNG charts of the built warehouse into reports/ (CLV calibration, forecasts)
plots: $(STAMP)
	$(PY) scripts/plot_clv.py
	$(PY) scripts/plot_clv_diagnostics.py
	$(PY) scripts/plot_forecast.py

## sample: regenerate the bundled sample in data/sample
sample: $(STAMP)
	$(PY) -m shoplens.datagen --customers 2000 --days 730 --products 120 --seed 42 \
	    --dirty-rate 0.01 --format parquet --out data/sample

docs: $(STAMP)
	$(DBT) docs generate

lock:
	$(PY) -m pip freeze --exclude-editable | grep -v '^shoplens' > requirements.lock

clean:
	rm -rf target logs warehouse.duckdb warehouse.duckdb.wal serving.duckdb serving.duckdb.lock \
	    sqlmesh_warehouse.duckdb sqlmesh_warehouse.duckdb.wal warehouse.duckdb.raw_utf8 .cache
