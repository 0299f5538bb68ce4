"""The dashboard page and the widget's template tags, without a browser (the
browser tests show them working live)."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from django.template import Context, Template, TemplateSyntaxError
from django.test import Client, override_settings

from tests.factories import make_job

pytestmark = pytest.mark.django_db


def render(source, **context):
    return Template("{% load job_status %}" + source).render(Context(context))


def widget_url(html):
    start = html.index('data-job-status-url="') + len('data-job-status-url="')
    return html[start : html.index('"', start)].replace("&amp;", "&")


def test_the_dashboard_sends_anonymous_visitors_to_sign_in():
    response = Client().get("/jobs/")
    assert response.status_code == 302
    assert "login" in response["Location"]


@override_settings(JOB_STATUS_ANONYMOUS_SEES_PUBLIC=True)
def test_the_dashboard_opens_to_anonymous_visitors_with_public_jobs():
    assert Client().get("/jobs/").status_code == 200


def test_the_dashboard_page_points_at_the_api_and_sets_the_csrf_cookie():
    client = Client()
    client.force_login(User.objects.create_user("ann"))
    response = client.get("/jobs/")
    assert response.status_code == 200
    assert 'data-api-url="/jobs/api/jobs/"' in response.content.decode()
    assert "csrftoken" in response.cookies


def test_one_job_by_task_id():
    assert widget_url(render("{% job_progress task_id %}", task_id="abc")) == "/jobs/api/jobs/abc/"


def test_the_newest_job_of_a_selection():
    html = render(
        '{% job_progress alias="export" job="app.export" tags=tags status="started" %}',
        tags={"election": 5, "code": "5", "nightly": None, "urgent": True},
    )
    url = urlsplit(widget_url(html))
    assert url.path == "/jobs/api/jobs/"
    assert parse_qs(url.query) == {
        "per_page": ["1"],
        "alias": ["export"],
        "job": ["app.export"],
        "status": ["started"],
        "tag": ["election=5", 'code="5"', "nightly", "urgent=true"],
    }


def test_a_widget_needs_a_job_or_a_selection():
    with pytest.raises(TemplateSyntaxError, match="needs a task id"):
        render("{% job_progress %}")


def test_assets_and_the_poll_interval():
    html = render("{% job_status_assets %}{% job_progress 'abc' interval=0.5 %}")
    assert "job_status/job_status.js" in html
    assert "job_status/job_status.css" in html
    assert 'data-job-status-interval="500"' in html


def test_string_tags_that_look_like_other_types_stay_strings():
    from job_status.views.api import tag_value

    html = render(
        '{% job_progress alias="a" tags=tags %}',
        tags={"flag": "false", "quoted": '"hi"', "number": "5", "word": "tenant-1"},
    )
    sent = parse_qs(urlsplit(widget_url(html)).query)["tag"]
    read_back = {text.split("=", 1)[0]: tag_value(text.split("=", 1)[1]) for text in sent}
    assert read_back == {"flag": "false", "quoted": '"hi"', "number": "5", "word": "tenant-1"}


def test_a_task_id_with_a_slash_gets_a_url_that_reaches_its_job():
    # Celery task ids are any strings; the page that embeds one must not 500.
    ann = User.objects.create_user("ann")
    make_job(task_id="exports/2024/a b", dispatched_by=ann)
    url = widget_url(render("{% job_progress task_id %}", task_id="exports/2024/a b"))
    assert url == "/jobs/api/jobs/exports/2024/a%20b/"
    client = Client()
    client.force_login(ann)
    assert client.get(url).json()["task_id"] == "exports/2024/a b"


def test_tag_keys_with_operator_characters_are_sent_quoted_and_found():
    ann = User.objects.create_user("ann")
    make_job(task_id="odd", tags={"a<b": 1, "x=y": "v", "!": None}, dispatched_by=ann)
    make_job(task_id="decoy", tags={"a": "b=1"}, dispatched_by=ann)
    html = render("{% job_progress tags=tags %}", tags={"a<b": 1, "x=y": "v", "!": None})
    url = widget_url(html)
    assert parse_qs(urlsplit(url).query)["tag"] == ['"a<b"=1', '"x=y"=v', '"!"']
    client = Client()
    client.force_login(ann)
    assert [job["task_id"] for job in client.get(url).json()["results"]] == ["odd"]
