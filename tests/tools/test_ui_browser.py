"""The MLflow UI as a person uses it, in a real headless Chromium (Debian's chromium).

Over a temporary store holding one training (a parent run and two candidate runs, tagged as
``make train`` tags them), the test starts the UI the way ``make ui`` does, opens the runs page
through the link ``make ui`` prints, ticks the two candidates, clicks Compare and checks that
the compare view shows both runs' metric names and values. It saves screenshots of the runs
table and of the compare view to reports/ (ui-runs.png, ui-compare.png).

Chromium and chromedriver come from Debian's packages; the test installs them with apt-get
when they are missing (CI runs as root) and is skipped, saying why, only when that fails.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from mlflow_runs import KIND_EXPERIMENT, Child, log_training, store_uri
from newsclean.config import PROJECT_ROOT, load_config
from newsclean.tools import compare, server

pytestmark = pytest.mark.slow

REPORTS = PROJECT_ROOT / "reports"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--window-size=1600,1200",
]
# Values with no tie at the third decimal: the compare view rounds metrics to three.
CANDIDATES = {
    "hier-sgd + all-features": {
        "val_macro_f1": 0.9234,
        "test_macro_f1": 0.9112,
        "val_accuracy": 0.9441,
        "test_news_f1": 0.9567,
        "train_seconds": 12.42,
    },
    "flat-sgd + word-tfidf": {
        "val_macro_f1": 0.8811,
        "test_macro_f1": 0.8702,
        "val_accuracy": 0.9012,
        "test_news_f1": 0.9103,
        "train_seconds": 3.21,
    },
}


def _browser_binaries() -> tuple[str, str] | None:
    browser = next(
        (shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None
    )
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="module")
def chromium() -> tuple[str, str]:
    found = _browser_binaries()
    if found is None:
        reason = server.apt_install(["chromium", "chromium-driver"])
        found = _browser_binaries()
        if found is None:
            pytest.skip(f"no headless browser: Debian's chromium could not be installed ({reason})")
    return found


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """A store with one training (parent + two candidates) and the UI served over it."""
    import mlflow

    root = tmp_path_factory.mktemp("ui_store")
    uri = store_uri(root)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment_id = client.create_experiment(
        KIND_EXPERIMENT, artifact_location=(root / "mlruns" / KIND_EXPERIMENT).as_uri()
    )
    children = [
        Child(name, "candidate", metrics, champion=(name == "hier-sgd + all-features"))
        for name, metrics in CANDIDATES.items()
    ]
    training = log_training(
        client,
        experiment_id,
        "train-kind-20260102-090000",
        children,
        best="hier-sgd + all-features",
        promoted=True,
    )
    config = load_config(
        [f"tracking.tracking_uri={uri}", f"tracking.artifact_root={root / 'mlruns'}"], environ={}
    )
    comparison = next(c for c in compare.install_views(config) if c.name == KIND_EXPERIMENT)
    ui_server = server.MlflowServer(
        backend_store_uri=uri,
        log_path=root / "mlflow-ui.log",
        command="ui",
        default_artifact_root=str(root / "mlruns"),
    )
    ui_server.start(timeout=180)
    try:
        yield {
            "url": ui_server.url,
            "links": compare.ui_links(ui_server.url, comparison),
            "training": training,
        }
    finally:
        ui_server.stop()


@pytest.fixture
def driver(chromium, tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (`browser` extra)")
    from selenium.webdriver.chrome.service import Service

    browser, chromedriver = chromium
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    service = Service(executable_path=chromedriver, log_output=str(tmp_path / "chromedriver.log"))
    session = webdriver.Chrome(options=options, service=service)
    session.set_page_load_timeout(60)
    try:
        yield session
    finally:
        session.quit()


def _wait(driver, condition, timeout: float = 60, what: str = "element"):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.25).until(condition)
    except TimeoutException:
        REPORTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(REPORTS / "ui-failure.png"))
        pytest.fail(f"timed out waiting for {what}; screenshot reports/ui-failure.png")


def _close_assistant(driver) -> None:
    from selenium.webdriver.common.by import By

    for button in driver.find_elements(
        By.CSS_SELECTOR, "button[data-component-id='mlflow.assistant.chat_panel.close']"
    ):
        if button.is_displayed():
            button.click()


def _row_checkbox(driver, run_id: str):
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(
        By.CSS_SELECTOR, f".ag-pinned-left-cols-container .ag-row[row-id='{run_id}']"
    )
    return rows[0].find_element(By.CSS_SELECTOR, "input.ag-checkbox-input") if rows else None


def _shown(value: float) -> str:
    """How the compare view prints a metric: rounded to three decimals, no trailing zeros."""
    return f"{round(value, 3):g}"


def test_select_two_runs_compare_and_see_their_metrics(ui, driver):
    from selenium.webdriver.common.by import By

    started = time.perf_counter()
    child_ids = ui["training"].children  # run name -> run id
    driver.get(ui["links"]["runs"])
    _wait(
        driver,
        lambda d: (
            all(_row_checkbox(d, run_id) for run_id in child_ids.values())
            or d.find_elements(By.CSS_SELECTOR, ".ag-row [col-id='attributes.`Run Name`'] button")
        ),
        what="the runs table",
    )
    if not all(_row_checkbox(driver, run_id) for run_id in child_ids.values()):
        # Without our saved view, child runs sit collapsed under their parent: expand it.
        driver.find_element(
            By.CSS_SELECTOR,
            f".ag-row[row-id='{ui['training'].parent_id}'] [col-id='attributes.`Run Name`'] button",
        ).click()
        _wait(
            driver,
            lambda d: all(_row_checkbox(d, run_id) for run_id in child_ids.values()),
            what="the child runs",
        )
    _close_assistant(driver)
    # Our saved view shows the key metrics as columns, best run first.
    _wait(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, "[col-id='metrics.`val_macro_f1`']"),
        what="the val_macro_f1 column",
    )
    body = driver.find_element(By.TAG_NAME, "body").text
    assert "You're viewing a shared view" in body
    assert body.index("hier-sgd + all-features") < body.index("flat-sgd + word-tfidf")
    REPORTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(REPORTS / "ui-runs.png"))

    for run_id in child_ids.values():
        _row_checkbox(driver, run_id).click()
    compare_button = _wait(
        driver,
        lambda d: next(
            (
                b
                for b in d.find_elements(By.CSS_SELECTOR, "[data-testid='runs-compare-button']")
                if b.is_displayed() and b.is_enabled()
            ),
            None,
        ),
        what="the Compare button",
    )
    compare_button.click()
    _wait(
        driver,
        lambda d: "Comparing 2 Runs" in d.find_element(By.TAG_NAME, "body").text,
        what="the compare view",
    )
    assert "/compare-runs?runs=" in driver.current_url
    for run_id in child_ids.values():
        assert run_id in driver.current_url

    def metrics_table_ready(d) -> bool:
        text = d.find_element(By.TAG_NAME, "body").text
        return all(metric in text for metric in CANDIDATES["flat-sgd + word-tfidf"])

    _wait(driver, metrics_table_ready, what="the metrics table")
    _close_assistant(driver)
    page = driver.find_element(By.TAG_NAME, "body").text
    for name, metrics in CANDIDATES.items():
        assert name in page, f"run name {name!r} not on the compare page"
        for metric, value in metrics.items():
            assert metric in page, f"metric {metric} not on the compare page"
            assert _shown(value) in page or str(value) in page, (
                f"{name}: {metric} = {value} (shown as {_shown(value)}) not on the compare page"
            )
    assert "champion" in page  # the champion tag is in the compared runs' tags

    # Frame the screenshot on the run names and the metrics table.
    headings = driver.find_elements(
        By.XPATH,
        "//*[normalize-space(text())='Visualizations' or normalize-space(text())='Run details']",
    )
    if headings:
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", headings[-1])
        time.sleep(0.5)
    screenshot = REPORTS / "ui-compare.png"
    driver.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
    print(f"browser part: {time.perf_counter() - started:.1f} s; screenshot {screenshot}")


def test_make_ui_links_open_the_charts_of_the_key_metrics(ui, driver):
    from selenium.webdriver.common.by import By

    driver.get(ui["links"]["charts"])
    _wait(
        driver,
        lambda d: "newsclean: key metrics" in d.find_element(By.TAG_NAME, "body").text,
        what="our chart section",
    )
    text = driver.find_element(By.TAG_NAME, "body").text
    for metric in ("val_macro_f1", "test_macro_f1", "test_news_f1"):
        assert metric in text
    _close_assistant(driver)
    driver.save_screenshot(str(REPORTS / "ui-charts.png"))
    assert Path(REPORTS / "ui-charts.png").stat().st_size > 10_000
