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


def test_a_consumer_never_sees_a_message_being_written(tmp_path, monkeypatch):
    """kombu 5.4 picks any file whose name *contains* ".<queue>.msg": the partial
    file must not match, in any kombu version, while it is being written.

    (A queue name of its own: kombu keeps declared bindings per transport class,
    so a name reused across tests would skip writing this test's binding.)"""
    import os
    from queue import Empty

    from job_status.contrib.celery import filesystem

    options = {
        "data_folder_in": str(tmp_path),
        "data_folder_out": str(tmp_path),
        "control_folder": str(tmp_path.parent / f"{tmp_path.name}-control"),
    }
    seen_while_writing = []
    real_replace = os.replace

    with Connection("filesystem://", transport=Transport, transport_options=options) as consumer:
        channel = consumer.default_channel
        assert isinstance(channel, filesystem.Channel)

        def replace_after_a_look(src, dst):
            # The file is fully written but not yet renamed: what does a consumer see?
            try:
                seen_while_writing.append(channel._get("writes"))
            except Empty:
                seen_while_writing.append(None)
            real_replace(src, dst)

        monkeypatch.setattr(os, "replace", replace_after_a_look)
        with Connection(
            "filesystem://", transport=Transport, transport_options=options
        ) as producer:
            producer.SimpleQueue("writes").put({"n": 1})

        assert seen_while_writing == [None]
        assert channel._get("writes")["body"]
