"""The spark target without Java or pyspark fails with one message saying what to install (issue 14).

Fast and Spark-free: part of ``make test``. The parity suite itself is
tests/python/test_spark_parity.py (``make test-spark``).
"""

from __future__ import annotations

import os
import subprocess
import sys

from shoplens.spark import session
from tests.python.conftest import REPO


def test_missing_java_names_what_to_install(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    message = session.missing_requirements()
    assert message is not None and "Java 17" in message and "openjdk-17-jre-headless" in message
    assert "pyspark" not in message.split("needs", 1)[1].split("Java")[0]


def test_missing_pyspark_names_what_to_install(monkeypatch) -> None:
    real = session.importlib.util.find_spec
    monkeypatch.setattr(session.importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyspark" else real(name, *a))
    message = session.missing_requirements()
    assert message is not None and "pyspark" in message and "dbt-spark[session]" in message


def test_the_command_stops_with_that_one_message(tmp_path) -> None:
    env = {**os.environ, "PATH": str(tmp_path), "JAVA_HOME": ""}
    proc = subprocess.run([sys.executable, "-m", "shoplens.spark", "dbt", "build"], cwd=REPO,
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == ["shoplens: the spark target needs Java 17 (make spark-env, i.e. apt-get install -y "
                     "openjdk-17-jre-headless, or set JAVA_HOME)"]


def test_session_conf_keeps_the_warehouse_under_the_spark_dir(tmp_path) -> None:
    conf = session.session_conf(tmp_path, cores=3)
    assert conf["spark.master"] == "local[3]"
    assert conf["spark.sql.warehouse.dir"] == str(tmp_path / "warehouse")
    assert str(tmp_path / "metastore_db") in conf["spark.hadoop.javax.jdo.option.ConnectionURL"]
    assert conf["spark.sql.session.timeZone"] == "UTC"
