"""The atomic filesystem transport: messages appear whole, under the name consumers read."""

from kombu import Connection

from job_status.contrib.celery.filesystem import Transport


def test_message_goes_through_and_no_partial_file_is_left(tmp_path):
    control = tmp_path.parent / f"{tmp_path.name}-control"
    options = {
        "data_folder_in": str(tmp_path),
        "data_folder_out": str(tmp_path),
        "control_folder": str(control),  # kombu's default is ./control, in the checkout
    }
    with Connection("filesystem://", transport=Transport, transport_options=options) as conn:
        queue = conn.SimpleQueue("jobs")
        queue.put({"payload": "x" * 100_000})

        assert [p.name.endswith(".jobs.msg") for p in tmp_path.iterdir()] == [True]

        message = queue.get(timeout=1)
        assert message.payload == {"payload": "x" * 100_000}
        message.ack()
        queue.close()
    assert list(tmp_path.iterdir()) == []
