"""The cluster id the tests' Apache Kafka is formatted with: the storage tool's parser takes a value
starting with "-" for an option, so one start in 64 failed with its usage text."""
from xinfang.messaging.apache_kafka import _cluster_id


def test_a_cluster_id_never_starts_with_a_dash_and_is_22_url_safe_characters():
    ids = [_cluster_id() for _ in range(5000)]  # a dash would lead ~78 of them
    assert not any(i.startswith("-") for i in ids)
    assert all(len(i) == 22 for i in ids) and len(set(ids)) == len(ids)
