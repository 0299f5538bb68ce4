"""In a real browser (headless Chromium) against a live server and a real worker:
the dashboard, the embedded widget and the admin.

Debian's ``chromium`` and ``chromium-driver`` must be installed (``.ci/run``
installs them); a missing browser fails these tests, it never skips them.
"""

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client, override_settings
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from job_status.dispatcher import dispatched_by
from job_status.models import JobMessage, JobStatus
from job_status.recording import Failure, record
from job_status.statuses import Status, Transition
from tests.conftest import wait_until
from tests.factories import make_job
from tests.helpers import wait_for_finish
from tests.testapp import tasks

pytestmark = [pytest.mark.browser, pytest.mark.worker]

L9_TEXT = "Échec: ünïcödé 🐟 失败"


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    missing = "Browser tests need Debian's chromium and chromium-driver packages."
    assert chromium, missing
    assert driver_path, missing
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def sign_in(browser: WebDriver, live_server):
    def sign_in_as(user: User) -> WebDriver:
        client = Client()
        client.force_login(user)
        browser.get(live_server.url + "/admin/login/")  # a page of the site, for its cookie
        browser.delete_all_cookies()
        browser.add_cookie({"name": "sessionid", "value": client.cookies["sessionid"].value})
        return browser

    return sign_in_as


# The pages redraw themselves as they poll: elements are read by selector, in the
# page, each time (a kept element would go stale).
def progress_at(browser: WebDriver, selector: str) -> float:
    value = browser.execute_script(
        "var e = document.querySelector(arguments[0]);"
        "return e && e.hasAttribute('value') ? e.value : null;",
        selector,
    )
    return float(value) if value is not None else -1.0


def text_at(browser: WebDriver, selector: str) -> str:
    text = browser.execute_script(
        "var e = document.querySelector(arguments[0]); return e ? e.innerText : null;", selector
    )
    return text or ""


def click(browser: WebDriver, selector: str) -> None:
    browser.execute_script("document.querySelector(arguments[0]).click();", selector)


def screenshot(browser: WebDriver, name: str) -> None:
    """``JOB_STATUS_SCREENSHOTS=docs/images pytest tests/test_browser.py`` refreshes
    the documentation's screenshots."""
    folder = os.environ.get("JOB_STATUS_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(folder) / f"{name}.png"))


def settled(action):
    """``action()``, again if the page was replaced under it (a form submitted, a
    page loading): the element it held is then stale, not wrong."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return action()
        except StaleElementReferenceException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def loaded(browser: WebDriver) -> bool:
    return bool(browser.execute_script("return document.readyState") == "complete")


def wait_in_browser(condition, timeout=20.0, describe=lambda: ""):
    return wait_until(condition, timeout=timeout, interval=0.1, describe=describe)


@override_settings(JOB_STATUS_POLL_INTERVAL=0.3)
def test_the_dashboard_and_the_widget_show_a_running_job_move(worker, live_server, sign_in):
    ann = User.objects.create_user("ann")
    browser = sign_in(ann)
    with dispatched_by(ann):
        result = tasks.reporting.delay(steps=10, pause=0.5)

    browser.get(live_server.url + "/jobs/")
    row = f"tr[data-task-id='{result.id}']"
    wait_in_browser(lambda: browser.find_elements(By.CSS_SELECTOR, row))

    first = wait_in_browser(
        lambda: (value := progress_at(browser, f"{row} progress")) > 0 and value
    )
    wait_in_browser(
        lambda: progress_at(browser, f"{row} progress") > first,
        describe=lambda: f"stuck at {first}",
    )
    assert text_at(browser, f"{row} [data-field=status]") == "started"
    click(browser, row)
    wait_in_browser(lambda: "step" in text_at(browser, "#job-detail [data-field=messages]"))
    screenshot(browser, "dashboard")

    browser.get(f"{live_server.url}/widget/{result.id}/")
    for widget in ("#one", "#selection"):
        bar = f"{widget} progress"
        seen = wait_in_browser(lambda bar=bar: (value := progress_at(browser, bar)) > 0 and value)
        wait_in_browser(lambda bar=bar, seen=seen: progress_at(browser, bar) > seen)
    screenshot(browser, "widget")
    wait_for_finish(result.id)
    wait_in_browser(lambda: text_at(browser, "#one [data-job-status-status]") == "succeeded")
    assert progress_at(browser, "#one progress") == 100
    assert "step 10 of 10" in text_at(browser, "#one")


@override_settings(JOB_STATUS_POLL_INTERVAL=0.3)
def test_cancel_from_the_dashboard_ends_the_job_cancelled(worker, live_server, sign_in):
    ann = User.objects.create_user("ann")
    browser = sign_in(ann)
    with dispatched_by(ann):
        result = tasks.checking_loop.delay(turns=60, pause=0.5)
    wait_until(lambda: JobStatus.objects.filter(task_id=result.id, status="started").exists())

    browser.get(live_server.url + "/jobs/")
    row = f"tr[data-task-id='{result.id}']"
    wait_in_browser(lambda: browser.find_elements(By.CSS_SELECTOR, row))
    click(browser, row)
    wait_in_browser(lambda: browser.find_element(By.ID, "job-cancel").is_displayed())
    browser.find_element(By.ID, "job-cancel").click()

    assert wait_for_finish(result.id).status == "cancelled"
    wait_in_browser(
        lambda: (
            browser.find_element(By.CSS_SELECTOR, "#job-detail [data-field=status]").text
            == "cancelled"
        )
    )
    assert "cleaned up" in browser.find_element(By.ID, "job-detail").text


def failed_with_l9_text():
    job = make_job("started", job="tests.testapp.tasks.unicode_flaky", tags={"election": 5})
    record(
        job.task_id,
        Transition(Status.FAILED, 1),
        failure=Failure("builtins.ValueError", L9_TEXT, f"Traceback ...\nValueError: {L9_TEXT}"),
    )
    JobMessage.objects.create(
        job_status=job, level="warning", text=L9_TEXT, created_at=job.queued_at
    )
    return job


def test_the_admin_list_filters_detail_and_actions(worker, live_server, sign_in):
    operator = User.objects.create_user("operator", is_staff=True)
    for codename in ("view_jobstatus", "change_jobstatus"):
        operator.user_permissions.add(Permission.objects.get(codename=codename))
    browser = sign_in(operator)
    l9 = failed_with_l9_text()
    waiting = make_job(task_id="waiting-job", tags={"election": 6})
    retriable = tasks.fail_if.delay("x")
    assert wait_for_finish(retriable.id).status == "failed"
    admin = live_server.url + "/admin/job_status/jobstatus/"

    # The list, with case L9's text.
    browser.get(admin)
    assert L9_TEXT in browser.find_element(By.ID, "result_list").text
    screenshot(browser, "admin-list")

    # A typed filter: tag election=6.
    tag_box = browser.find_element(By.CSS_SELECTOR, "form.job-status-typed-filter input[name=tag]")
    tag_box.send_keys("election=6", Keys.ENTER)
    wait_in_browser(lambda: "tag=election" in browser.current_url and loaded(browser))
    listed = settled(lambda: browser.find_element(By.ID, "result_list").text)
    assert "waiting-job" in listed
    assert l9.task_id not in listed

    # The detail, with the timeline and messages.
    browser.get(f"{admin}{l9.pk}/change/")
    page = browser.find_element(By.ID, "content").text
    assert page.count(L9_TEXT) >= 3
    screenshot(browser, "admin-detail")

    # Cancel: select, confirm, report.
    def run_action(action: str, job: JobStatus) -> str:
        browser.get(admin)
        checkbox = f"input[name=_selected_action][value='{job.pk}']"
        settled(lambda: browser.find_element(By.CSS_SELECTOR, checkbox).click())
        option = f"select[name=action] option[value={action}]"
        settled(lambda: browser.find_element(By.CSS_SELECTOR, option).click())
        settled(lambda: browser.find_element(By.CSS_SELECTOR, "button[name=index]").click())
        wait_in_browser(lambda: "Are you sure?" in text_at(browser, "#content"))
        settled(
            lambda: browser.find_element(By.CSS_SELECTOR, "#content input[type=submit]").click()
        )
        return str(wait_in_browser(lambda: text_at(browser, "ul.messagelist")))

    assert "1 job cancelled." in run_action("cancel_jobs", waiting)
    assert JobStatus.objects.get(pk=waiting.pk).status == "cancelled"

    failed = JobStatus.objects.get(task_id=retriable.id)
    assert "1 job dispatched again." in run_action("retry_jobs", failed)
    again = wait_until(lambda: JobStatus.objects.filter(retry_of=failed).first())
    assert wait_for_finish(again.task_id).status == "failed"  # same arguments, same failure


POLL_PROBE = """
var done = arguments[arguments.length - 1];
var inFlight = 0, most = 0, calls = 0, failing = false;
function setHidden(value) {
  var hidden = {configurable: true, get: function () { return value; }};
  Object.defineProperty(document, "hidden", hidden);
}
function load() {
  calls += 1; inFlight += 1; most = Math.max(most, inFlight);
  return new Promise(function (resolve, reject) {
    setTimeout(function () { inFlight -= 1; failing ? reject(new Error("down")) : resolve(); },
               failing ? 0 : 200);
  });
}
var poller = JobStatus.poll(load, {interval: 10, hiddenInterval: 100000, maxBackoff: 100000});
var hammer = setInterval(function () { poller.now(); }, 5);  // a user clicking away
setTimeout(function () {
  clearInterval(hammer);
  var visible = calls;
  setHidden(true);
  document.dispatchEvent(new Event("visibilitychange"));
  setTimeout(function () {
    var hidden = calls - visible;
    setHidden(false);
    failing = true;
    poller.now();
    setTimeout(function () {
      poller.stop();
      done({most: most, visible: visible, hidden: hidden, failing: calls - visible - hidden});
    }, 1000);
  }, 1000);
}, 1000);
"""


def test_polling_keeps_one_request_in_flight_and_backs_off(live_server, browser):
    """The loop that the dashboard and widget share, in the browser: never two
    requests at once however often it is asked; slower in a hidden tab; slower
    after each failure."""
    browser.get(f"{live_server.url}/widget/none/")
    browser.set_script_timeout(15)

    seen = browser.execute_async_script(POLL_PROBE)

    assert seen["most"] == 1
    assert seen["visible"] >= 3  # requests of 200 ms, back to back, for a second
    assert seen["hidden"] <= 2  # the one in flight, and at most one asked for before
    assert seen["failing"] <= 10  # 10, 20, 40, 80 ... ms apart, not every 10 ms


HOLD_PAGE_ONE = """
// Holds back the answers of page-1 list requests until released: a slow
// request, made to measure. Records each drawing of the rows with its label.
var realFetch = window.fetch, held = [];
window.jobStatusTest = {released: false, drawn: [], held: function () { return held.length; }};
window.fetch = function (url, options) {
  var answer = realFetch(url, options);
  if (/[?&]page=1(&|$)/.test(String(url)) && !window.jobStatusTest.released) {
    return new Promise(function (resolve) { held.push(function () { resolve(answer); }); });
  }
  return answer;
};
window.jobStatusTest.release = function () {
  window.jobStatusTest.released = true;
  held.forEach(function (resolve) { resolve(); });
};
new MutationObserver(function () {
  var first = document.querySelector("#job-rows tr");
  window.jobStatusTest.drawn.push([
    document.querySelector("#job-page").textContent,
    first ? first.getAttribute("data-task-id") : null,
  ]);
}).observe(document.querySelector("#job-rows"), {childList: true});
"""


@override_settings(JOB_STATUS_POLL_INTERVAL=0.2)
def test_a_late_answer_for_page_one_is_not_drawn_as_page_two(live_server, sign_in):
    """Next clicked while page 1 is still loading: page 1's answer, when it comes,
    is dropped, and page 2 is fetched and drawn under its label."""
    ann = User.objects.create_user("ann")
    for n in range(30):
        make_job(task_id=f"row-{n:02}", dispatched_by=ann)  # page 1: row-29 .. row-05
    browser = sign_in(ann)
    browser.get(live_server.url + "/jobs/")
    wait_in_browser(lambda: browser.find_elements(By.CSS_SELECTOR, "tr[data-task-id='row-29']"))

    browser.execute_script(HOLD_PAGE_ONE)
    wait_in_browser(lambda: browser.execute_script("return window.jobStatusTest.held()") >= 1)
    click(browser, "#job-next")
    browser.execute_script("window.jobStatusTest.release()")

    wait_in_browser(lambda: browser.find_elements(By.CSS_SELECTOR, "tr[data-task-id='row-04']"))
    time.sleep(0.5)  # a few more polls
    drawn = browser.execute_script("return window.jobStatusTest.drawn")
    assert text_at(browser, "#job-page") == "2"
    assert ["2", "row-29"] not in drawn, drawn
    assert drawn[-1] == ["2", "row-04"]
