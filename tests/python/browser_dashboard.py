"""Real-browser test of the dashboard: headless Chromium (Debian's) opens every page.

Run by `make test-browser` (which installs Debian's chromium with `make
browser`); not part of `make test` (the file name keeps pytest from
collecting it by default). It serves the publication named by
SHOPLENS_SERVING_PATH, or the repository's serving.duckdb after `make
build`, or else builds a small generated shop first. Screenshots go to
reports/dashboard/<page>.png.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from serving_helpers import REPO, checked_build, make_shop

from shoplens.serving.reader import open_serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = REPO / "reports" / "dashboard"
# page key -> text every render of that page must show
PAGES = {
    "segments": ["Customer segments", "Customers with a purchase", "RFM cells"],
    "ltv": ["Lifetime value", "Customers scored", "Top 20 customers by CLV"],
    "propensity": ["Purchase propensity", "Deciles (1 = most likely to buy)"],
    "forecasts": ["Demand forecasts", "Method"],
    "evaluation": ["Model evaluation", "baselines included"],
    "quality": ["Data quality", "Rejected raw rows"],
    "sales": ["Monthly sales", "New customers, all months"],
    "recommendations": ["Recommendations", "Customers with a list", "Bought this, also bought"],
    "profiles": ["Customer profiles", "Customers profiled"],
}


@pytest.fixture(scope="module")
def serving(tmp_path_factory) -> Path:
    named = os.environ.get("SHOPLENS_SERVING_PATH")
    if named and Path(named).exists():
        return Path(named)
    if (REPO / "serving.duckdb").exists():
        return REPO / "serving.duckdb"
    root = tmp_path_factory.mktemp("browser")
    _, variables = make_shop(root / "raw", seed=22)
    checked_build(root, variables)
    return root / "serving.duckdb"


@pytest.fixture(scope="module")
def app_url(serving):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "SHOPLENS_SERVING_PATH": str(serving), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("streamlit")), "run", str(REPO / "dashboard" / "app.py"),
         "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(1)
        else:
            raise AssertionError("the dashboard did not start within 120 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        raise AssertionError("no chromium: run `make browser` (installs Debian's chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.mark.parametrize("page_key", list(PAGES))
def test_every_page_renders_in_chromium(browser, app_url, serving, page_key):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{app_url}/?page={page_key}", wait_until="networkidle", timeout=120_000)
        page.get_by_role("heading", name=PAGES[page_key][0]).first.wait_for(timeout=120_000)
        # Wait for the run to finish (Streamlit shows a status widget while running).
        page.wait_for_function(
            "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000
        )
        # ... and for every chart and table to be drawn (both render into a canvas or an svg).
        page.wait_for_function(
            """() => [...document.querySelectorAll('[data-testid*="VegaLiteChart"], [data-testid="stDataFrame"]')]
                      .every(e => e.querySelector('canvas, svg'))""",
            timeout=120_000,
        )
        page.wait_for_timeout(1000)
        text = page.inner_text("body")
        for expected in PAGES[page_key]:
            assert expected in text, f"{page_key}: '{expected}' not shown"
        assert page.locator('[data-testid="stException"]').count() == 0, f"{page_key}: the page shows an exception"
        if page_key == "segments":
            n = open_serving(serving).execute("select count(*) from marts.customer_rfm").fetchone()[0]
            assert f"{n:,}" in text
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{page_key}.png"), full_page=True)
    finally:
        page.close()
